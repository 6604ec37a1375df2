/**
 * Remote commands for shipping an image, as data (see hosts/command.ts). The upload lands in a temporary file under
 * the service's state dir; only a verified, fully loaded image ever gets the `<service>:<tag>` tag, so a transfer cut
 * half-way leaves nothing a rollout could pick up.
 */
import { type Command, command, reading, script } from '../hosts/command.js';

/**
 * Prints what inventory.ts parses, in one round trip: the engine's platform, the store's driver status, every image's
 * ID and RootFS layers and, on a containerd store, the digests of its content store. `ctr` needs access to the
 * containerd socket: root, or sudo without a password; without it the host still works, just not thin.
 */
export function inventory(): Command {
  return reading(script(
    'list the images and layers the host already has',
    [
      'set -e',
      `echo "platform $(docker version --format '{{.Server.Os}}/{{.Server.Arch}}')"`,
      `d=$(docker info --format '{{json .DriverStatus}}'); echo "driver $d"`,
      // An image removed between ls and inspect only makes the host look poorer: more is sent, never too little.
      `docker image ls -aq --no-trunc | sort -u | xargs -r docker image inspect --format 'image {{.Id}} {{json .RootFS.Layers}}' 2>/dev/null || true`,
      'case "$d" in *io.containerd.snapshotter*)',
      '  if out=$(ctr -n moby content ls -q 2>&1) || out=$(sudo -n ctr -n moby content ls -q 2>&1); then printf "%s\n" "$out" | sed "s/^/blob /"',
      '  else echo "noblobs $(printf "%s" "$out" | head -c 200 | tr "\n" " ")"; fi ;;',
      'esac',
    ].join('\n'),
  ));
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
 * Checks size and sha256 of the upload, loads it, and checks that `docker images` shows the loaded name with the
 * expected ID; only then gives it the real tag. The archive names the image `incoming` (a name of its own): a load
 * that half-worked (a containerd store that could not resolve a layer loads with exit 0 into an image hidden from
 * `docker images`, or fails leaving a broken record) is removed again and the host fails loudly. Always removes the
 * upload. Prints `bytes=<n>` (as the host counted them) and docker load's output.
 */
/** docker load of a whole image on a slow disk takes minutes; longer than this is a stuck engine. */
const LOAD_TIMEOUT_MS = 15 * 60_000;

export function loadAndTag(stateDir: string, file: string, expect: { bytes: number; sha256: string; imageId: string }, incoming: string, tag: string): Command {
  return {
    ...script(
    `load the image and tag it ${tag}`,
    [
      'set -e; f="$1" want="$4" incoming="$5"; trap \'rm -f "$f"\' EXIT',
      'n=$(wc -c < "$f"); echo "bytes=$n"',
      '[ "$n" = "$2" ] || { echo "upload is $n bytes, expected $2: the transfer was cut" >&2; exit 3; }',
      's=$(sha256sum "$f" | cut -d" " -f1); [ "$s" = "$3" ] || { echo "upload checksum $s does not match $3" >&2; exit 3; }',
      'docker load -i "$f" || { docker rmi "$incoming" >/dev/null 2>&1 || true; echo "docker load failed (a broken record, if any, was removed)" >&2; exit 4; }',
      'id=$(docker image ls --no-trunc --format "{{.ID}}" "$incoming")',
      '[ "$id" = "$want" ] || { docker rmi "$incoming" >/dev/null 2>&1 || true; echo "docker load exited 0 but docker images shows ${id:-no image} for $incoming, expected $want (removed it)" >&2; exit 4; }',
      'docker tag "$incoming" "$6"',
      'docker rmi "$incoming" >/dev/null',
    ].join('\n'),
    `${incomingDir(stateDir)}/${file}`,
    String(expect.bytes),
    expect.sha256,
    expect.imageId,
    incoming,
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
