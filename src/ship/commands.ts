/**
 * Remote commands for shipping an image, as data (see hosts/command.ts). The upload lands in a temporary file under
 * the service's state dir; only a verified, fully loaded image ever gets the `<service>:<tag>` tag, so a transfer cut
 * half-way leaves nothing a rollout could pick up.
 */
import { type Command, command, script, toShell } from '../hosts/command.js';
import { shortDigest } from '../util/short.js';

/**
 * Prints what inventory.ts parses, in one round trip: the engine's platform and version, the store's driver status, every image's
 * ID and RootFS layers and, on a containerd store, the digests of its content store. `ctr` needs access to the
 * containerd socket: root, or sudo without a password; without it the host still works, just not thin.
 */
export function inventory(): Command {
  return script(
    'read',
    'list the images and layers the host already has',
    [
      // Independent docker calls run side by side: on a busy host each one costs a fraction of a second.
      't=$(mktemp -d); trap \'rm -rf "$t"\' EXIT',
      `docker version --format '{{.Server.Os}}/{{.Server.Arch}} {{.Server.Version}}' > "$t/v" 2> "$t/ve" & v=$!`,
      // An image removed between ls and inspect only makes the host look poorer: more is sent, never too little.
      `(docker image ls -aq --no-trunc | sort -u | xargs -r docker image inspect --format 'image {{.Id}} {{json .RootFS.Layers}}' 2>/dev/null || true) > "$t/i" &`,
      `d=$(docker info --format '{{json .DriverStatus}}') || exit 1`,
      'case "$d" in *io.containerd.snapshotter*)',
      '  if out=$(ctr -n moby content ls -q 2>&1) || out=$(sudo -n ctr -n moby content ls -q 2>&1); then printf "%s\n" "$out" | sed "s/^/blob /" > "$t/c"',
      '  else echo "noblobs $(printf "%s" "$out" | head -c 200 | tr "\n" " ")" > "$t/c"; fi ;;',
      'esac',
      'wait "$v" || { cat "$t/ve" >&2; exit 1; }',
      'wait',
      'echo "platform $(cat "$t/v")"; echo "driver $d"; cat "$t/i"; [ ! -f "$t/c" ] || cat "$t/c"',
    ].join('\n'),
  );
}

function incomingDir(stateDir: string): string {
  return `${stateDir}/incoming`;
}

/** docker load of a whole image on a slow disk takes minutes; longer than this is a stuck engine. */
const LOAD_TIMEOUT_S = 15 * 60;

/**
 * One round trip that receives, verifies, loads and tags (wire.ts says what arrives). stdin carries parts, each
 * `part <bytes> <name>` then exactly that many bytes then `sum <sha256>`, and at last `end <classic id> <containerd id>`
 * (the ID the image must show on either store). Each part is written to a
 * temp file (gzip is unpacked on the way in, so `docker load` reads a plain tar) and checked, size and sha256 against
 * what the deployer sent, before it is handed to the loader running beside the receiver: part k loads while part k+1
 * arrives. Every part loads under a name of its own (`incoming`, the final one, or `incoming-p<k>`). Only when the
 * final image is listed by `docker images` with the expected ID does it get the real tag; every incoming name is
 * removed again whatever happens (on the way out, also after a cut transfer or a failed load), and so is every temp
 * file. Prints `part=<k> <bytes>` per part, `bytes=<n>` (as the host counted them) and `id=<image id>`.
 * Exit 3: the transfer was cut or corrupted; 4: docker load failed or loaded something else; 5: a part could not be
 * written on the host (a full disk), found as soon as the part is in, before it is loaded.
 */
export function receiveAndLoad(stateDir: string, codec: 'gzip' | 'zstd' | 'none', incoming: string, tag: string): Command {
  return script(
    'write',
    `receive, check and load the image, tag it ${tag}`,
    [
      'd="$1" codec="$2" incoming="$3" tag="$4" lp="" want=""',
      'mkdir -p "$d"',
      // Leftovers of runs that died (a lost connection, a reboot) an hour ago or more.
      'find "$d" -mindepth 1 -maxdepth 1 -mmin +60 -exec rm -rf {} + 2>/dev/null || true',
      'tmp=$(mktemp -d "$d/recv.XXXXXX")',
      'fail() { echo "$2" >&2; exit "$1"; }',
      'cleanup() {',
      '  rc=$?; exec 3>&- 2>/dev/null',
      '  [ -z "$lp" ] || wait "$lp" 2>/dev/null || true',
      // One docker call for every name (each costs a CLI start, on a host loading in parallel with others).
      '  [ ! -s "$tmp/names" ] || xargs docker rmi < "$tmp/names" >/dev/null 2>&1 || true',
      '  rm -rf "$tmp"; exit "$rc"',
      '}',
      'trap cleanup EXIT',
      "trap 'exit 129' HUP INT TERM PIPE",
      `L="docker"; command -v timeout >/dev/null && L="timeout ${LOAD_TIMEOUT_S} docker"`,
      'mkfifo "$tmp/q"',
      // The loader: one part after the other, in order (part k+1 builds on the layers of part k).
      '( while read -r f n; do',
      '    echo "$n" >> "$tmp/names"',
      '    $L load -q -i "$f" > "$tmp/load.out" 2>&1 || { cat "$tmp/load.out" >&2; echo "docker load of $n failed" >&2; exit 4; }',
      '    rm -f "$f"',
      '  done ) < "$tmp/q" &',
      'lp=$!',
      'exec 3> "$tmp/q"',
      'i=0 total=0',
      'while :; do',
      '  read -r kind n name || fail 3 "the transfer was cut after $i parts ($total bytes)"',
      '  [ "$kind" = end ] && { want="$n" want2="$name"; break; }',
      '  [ "$kind" = part ] || fail 3 "unexpected input from the deployer: $kind"',
      // Size and sha256 are taken as the bytes arrive (fifos), not by reading the part again.
      '  i=$((i+1)) f="$tmp/$i" gz=0 wr=0',
      '  rm -f "$tmp/h" "$tmp/w"; mkfifo "$tmp/h" "$tmp/w"',
      '  sha256sum < "$tmp/h" > "$tmp/s" & hp=$!',
      '  wc -c < "$tmp/w" > "$tmp/n" & wp=$!',
      '  if [ "$codec" = gzip ]; then f="$f.tar"; head -c "$n" | tee "$tmp/h" "$tmp/w" | gzip -dc > "$f" 2> "$tmp/gz.err" || gz=1',
      // A pipeline's status is its last stage's: tee's failure to write the part (a full disk) must not wait for docker load.
      '  else f="$f.z"; head -c "$n" | tee "$tmp/h" "$tmp/w" > "$f" || wr=1; fi',
      '  wait "$hp" "$wp" || true',
      '  [ "$wr" = 0 ] || fail 5 "cannot write part $i ($n bytes) to $f on the host: is its disk full? (df -h $d)"',
      '  read -r sk sum || sum=""',
      '  got=$(cat "$tmp/n" 2>/dev/null)',
      // wc always prints a count: none means it could not write it (gzip filled the disk first).
      '  [ -n "$got" ] || fail 5 "cannot write on the host while receiving part $i: is its disk full? (df -h $d)"',
      '  [ "$got" = "$n" ] || fail 3 "part $i is ${got:-0} bytes, expected $n: the transfer was cut"',
      '  s=$(cut -d" " -f1 "$tmp/s")',
      '  [ "$sk" = sum ] && [ "$s" = "$sum" ] || fail 3 "part $i checksum $s does not match ${sum:-(none sent)}: the transfer was cut or corrupted"',
      '  total=$((total+n)); echo "part=$i $n"',
      '  [ "$gz" = 0 ] || fail 4 "cannot unpack part $i: $(cat "$tmp/gz.err" 2>/dev/null) (a full disk? df -h $d)"',
      '  kill -0 "$lp" 2>/dev/null || break',
      '  echo "$f $name" >&3',
      'done',
      'exec 3>&-',
      'wait "$lp" || exit 4; lp=""',
      '[ "$kind" = end ] || exit 4',
      'echo "bytes=$total"',
      'id=$(docker image ls --no-trunc --format "{{.ID}}" "$incoming")',
      // The deployer sends the ID for each store (config digest on classic, manifest digest on containerd).
      '[ -n "$id" ] && { [ "$id" = "$want" ] || [ "$id" = "$want2" ]; } || fail 4 "docker load exited 0 but docker images shows ${id:-no image} for $incoming, expected $want or $want2 (removed it)"',
      'echo "id=$id"',
      'docker tag "$incoming" "$tag"',
    ].join('\n'),
    incomingDir(stateDir),
    codec,
    incoming,
    tag,
  );
}

/**
 * A relay hop: runs `inner` (this host's receiveAndLoad) on stdin while forwarding the same bytes, as they arrive, to
 * the next host over SSH (OpenSSH client of this host; its keys, or the deployer's agent when forwarded), where
 * `next` runs (that host's receiveAndLoad, or a relay hop again). The next host's key is the one the deployer checked,
 * written to a temp known_hosts: nothing is trusted on first use. What the next host printed comes back on stdout
 * prefixed `@<label> `, then `@<label> rc=<its exit code>` and its last error lines as `@<label> err …`. A hop that
 * fails never holds back this host (tee -p): the deployer then sends to the next host itself.
 */
export function relayHop(inner: Command, next: { label: string; dest: string; port: number; knownHostsLine: string; command: Command }): Command {
  return {
    ...script(
      'write',
      `${inner.why}, relaying to ${next.label}`,
      [
        'kh="$1" port="$2" dest="$3" next="$4" label="$5"; shift 5',
        't=$(mktemp -d); trap \'rm -rf "$t"\' EXIT',
        'printf "%s\\n" "$kh" > "$t/kh"; mkfifo "$t/f"',
        '( ssh -T -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$t/kh" -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=10 -o ServerAliveInterval=10 -o LogLevel=ERROR -p "$port" "$dest" "$next" < "$t/f" > "$t/out" 2> "$t/err"; echo $? > "$t/rc" ) &',
        'rp=$!',
        'tee -p "$t/f" | "$@"; rc=$?',
        'wait "$rp"',
        'sed "s/^/@$label /" "$t/out"',
        'echo "@$label rc=$(cat "$t/rc" 2>/dev/null || echo 255)"',
        'tail -n 5 "$t/err" | sed "s/^/@$label err /"',
        'exit $rc',
      ].join('\n'),
      next.knownHostsLine,
      String(next.port),
      next.dest,
      toShell(next.command),
      next.label,
      ...inner.argv,
    ),
    timeoutMs: 0,
  };
}

/**
 * Whether this host can open an SSH session on each relay target (the same options as relayHop), all in parallel.
 * Prints `ok <label>` or `fail <label> <why>` per target.
 */
export function relayProbe(targets: { label: string; dest: string; port: number; knownHostsLine: string }[]): Command {
  return script(
    'write',
    `check that the host reaches ${targets.map((t) => t.label).join(', ')} over SSH (relay)`,
    [
      't=$(mktemp -d); trap \'rm -rf "$t"\' EXIT',
      'while [ $# -ge 4 ]; do',
      '  kh="$1" port="$2" dest="$3" label="$4"; shift 4',
      '  ( printf "%s\\n" "$kh" > "$t/$label"',
      '    if out=$(ssh -T -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$t/$label" -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5 -o LogLevel=ERROR -p "$port" "$dest" true 2>&1); then echo "ok $label"',
      '    else echo "fail $label $(printf "%s" "$out" | tr "\\n" " " | head -c 300)"; fi ) &',
      'done',
      'wait',
    ].join('\n'),
    ...targets.flatMap((t) => [t.knownHostsLine, String(t.port), t.dest, t.label]),
  );
}

/** The ID `docker images` shows for a reference on the host (the same ID receiveAndLoad checks); empty when none. */
export function listedImageId(ref: string): Command {
  return command('read', `check that ${ref} is on the host`, 'docker', 'image', 'ls', '--no-trunc', '--format', '{{.ID}}', ref);
}

/** Tags an image the host already has (no transfer needed). */
export function tagImage(imageId: string, tag: string): Command {
  return command('write', `tag ${shortDigest(imageId)} as ${tag}`, 'docker', 'tag', imageId, tag);
}

function _removeFile(path: string): Command {
  return command('write', 'remove an unfinished upload', 'rm', '-f', path);
}

/** Prints `<repository>:<tag> <image id>` for every tag of the service's images on the host (one docker call). */
export function presentImages(service: string): Command {
  return command(
    'read',
    'check which releases are still on the host',
    'docker',
    'image',
    'ls',
    '--no-trunc',
    '--format',
    '{{.Repository}}:{{.Tag}} {{.ID}}',
    service,
  );
}

/** The refs present on the host, from presentImages' output. */
export function parsePresent(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0]!),
  );
}
