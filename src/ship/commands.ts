/**
 * Remote commands for shipping an image, as data (see hosts/command.ts). The upload lands in a temporary file under
 * the service's state dir; only a verified, fully loaded image ever gets the `<service>:<tag>` tag, so a transfer cut
 * half-way leaves nothing a rollout could pick up.
 */
import { type Command, command, reading, script } from '../hosts/command.js';

export const CONTAINERD_SNAPSHOTTER = 'io.containerd.snapshotter';

/** Prints the driver status, then one JSON list of RootFS layers per image on the host. */
export function inventory(): Command {
  return reading(script(
    'list the image layers the host already has',
    `docker info --format '{{json .DriverStatus}}' && docker image ls -aq --no-trunc | sort -u | xargs -r docker image inspect --format '{{json .RootFS.Layers}}'`,
  ));
}

/** Prints the image ID a tag points at, or nothing. */
export function imageIdOf(ref: string): Command {
  return reading(script(`look up ${ref}`, `docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true`, ref));
}

export function incomingDir(stateDir: string): string {
  return `${stateDir}/incoming`;
}

/** Receives the compressed image tar on stdin into a temp file (removing uploads left by earlier, cut runs). */
export function receive(stateDir: string, file: string): Command {
  return script(
    'receive the image',
    `set -e; mkdir -p "$1"; find "$1" -maxdepth 1 -name '*.part' -mmin +60 -delete 2>/dev/null || true; cat > "$2"`,
    incomingDir(stateDir),
    `${incomingDir(stateDir)}/${file}`,
  );
}

/**
 * Checks size and sha256 of the upload, loads it, checks the loaded image ID, tags it, and always removes the file.
 * Prints `bytes=<n>` (as the host counted them) and docker load's output.
 */
/** docker load of a whole image on a slow disk takes minutes; longer than this is a stuck engine. */
const LOAD_TIMEOUT_MS = 15 * 60_000;

export function loadAndTag(stateDir: string, file: string, expect: { bytes: number; sha256: string; imageId: string }, tag: string): Command {
  return {
    ...script(
    `load the image and tag it ${tag}`,
    [
      'set -e; f="$1"; trap \'rm -f "$f"\' EXIT',
      'n=$(wc -c < "$f"); echo "bytes=$n"',
      '[ "$n" = "$2" ] || { echo "upload is $n bytes, expected $2: the transfer was cut" >&2; exit 3; }',
      's=$(sha256sum "$f" | cut -d" " -f1); [ "$s" = "$3" ] || { echo "upload checksum $s does not match $3" >&2; exit 3; }',
      'docker load -i "$f"',
      'id=$(docker image inspect --format "{{.Id}}" "$4") || { echo "docker load did not produce image $4" >&2; exit 4; }',
      'docker tag "$id" "$5"',
    ].join('\n'),
    `${incomingDir(stateDir)}/${file}`,
    String(expect.bytes),
    expect.sha256,
    expect.imageId,
    tag,
  ),
    timeoutMs: LOAD_TIMEOUT_MS,
  };
}

/** Tags an image the host already has (no transfer needed). */
export function tagImage(imageId: string, tag: string): Command {
  return command(`tag ${imageId.slice(7, 19)} as ${tag}`, 'docker', 'tag', imageId, tag);
}

export function removeFile(path: string): Command {
  return command('remove an unfinished upload', 'rm', '-f', path);
}

/** Prints `<repository>:<tag> <image id>` for every tag of the service's images on the host (one docker call). */
export function presentImages(service: string): Command {
  return reading(command('check which releases are still on the host', 'docker', 'image', 'ls', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}', service));
}

/** The refs present on the host, from presentImages' output. */
export function parsePresent(text: string): Set<string> {
  return new Set(text.split('\n').filter(Boolean).map((l) => l.split(' ')[0]!));
}
