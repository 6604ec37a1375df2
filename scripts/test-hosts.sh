#!/usr/bin/env bash
# Simulated deploy targets for boxship: docker-in-docker containers running sshd.
#
#   scripts/test-hosts.sh up     [SPEC...]   start hosts (no-op for ones already running)
#   scripts/test-hosts.sh down   [NAME...]   remove hosts (default: all of this checkout's boxship-host-*)
#   scripts/test-hosts.sh reset  [SPEC...]   down then up: fresh hosts, empty docker
#   scripts/test-hosts.sh status             list hosts and whether ssh + docker answer
#   scripts/test-hosts.sh build  [IMAGE...]  (re)build boxship-testhost:latest, :trixie and :bare (or the ones named)
#
# SPEC is name:sshport:httpport[:flavour] (default: a:2201:8081 b:2202:8082:ctrd). FLAVOUR picks the engine:
#   d20   Debian 12's Docker 20.10, classic image store (the default)
#   d26   Debian 13's Docker 26.1, classic image store (overlay2)
#   ctrd  Debian 13's Docker 26.1, containerd image store (containerd snapshotter)
#   bare  Debian 12 with sshd and no Docker (boxship setup installs it); user root and a non-root user deploy
# Host NAME is container boxship-host-NAME, reachable as root@127.0.0.1 -p SSHPORT with
# .boxship-test/id_ed25519 and .boxship-test/known_hosts; its port 8080 is published
# on 127.0.0.1:HTTPPORT. A host belongs to the checkout that started it (label dev.boxship.test-checkout): another
# checkout never removes or recreates it, it picks other names and ports (BOXSHIP_TEST_HOSTS for the tests).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# BOXSHIP_TEST_LANE=N: lane N of scripts/test-lanes.ts, with a state dir and an owner label of its own (as
# test/helpers/paths.ts has them), so one lane's up/reset/down never touches another lane's hosts.
LANE="${BOXSHIP_TEST_LANE:-}"
[[ -z "$LANE" || "$LANE" =~ ^[0-9]{1,2}$ ]] || { echo "[test-hosts] ERROR: BOXSHIP_TEST_LANE: want a lane number, got '$LANE'" >&2; exit 2; }
if [[ -n "$LANE" ]]; then STATE="$REPO/.boxship-test/lanes/$LANE" OWNER="$REPO#lane-$LANE"; else STATE="$REPO/.boxship-test" OWNER="$REPO"; fi
KEY="$STATE/id_ed25519"
KNOWN_HOSTS="$STATE/known_hosts"
# BOXSHIP_TEST_NETWORK: another network for the hosts started now (the transfer bench shapes its own bridge).
NETWORK="${BOXSHIP_TEST_NETWORK:-boxship-testnet}"
IMAGE="boxship-testhost:latest"
TRIXIE_IMAGE="boxship-testhost:trixie"
BARE_IMAGE="boxship-testhost:bare"
PREFIX="boxship-host-"
# A mixed fleet by default, as the test suites use it (test/helpers/paths.ts).
DEFAULT_SPECS=(a:2201:8081 b:2202:8082:ctrd)
UP_TIMEOUT="${UP_TIMEOUT:-90}"
DOCKER="${DOCKER:-/usr/bin/docker}"
[[ -x "$DOCKER" ]] || DOCKER="$(command -v docker)"

log() { printf '[test-hosts] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ssh_host() { # PORT CMD...
  local port="$1"; shift
  ssh -F /dev/null -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
      -o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
      -o StrictHostKeyChecking=yes -o ConnectTimeout=5 -o LogLevel=ERROR \
      -p "$port" root@127.0.0.1 "$@"
}

# Which checkout started a host: only that checkout may remove or recreate it.
owner_of() { "$DOCKER" inspect -f '{{index .Config.Labels "dev.boxship.test-checkout"}}' "$1" 2>/dev/null; }
owned() { local o; o="$(owner_of "$1")"; [[ -z "$o" || "$o" == "$OWNER" ]]; }

running() { [[ "$("$DOCKER" inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" == true ]]; }
exists() { "$DOCKER" container inspect "$1" >/dev/null 2>&1; }

build_image() { # [IMAGE...] (default: both)
  "$DOCKER" image inspect debian:bookworm-slim >/dev/null 2>&1 || bash "$REPO/scripts/base-images.sh"
  local want=("$@") img
  (( ${#want[@]} )) || want=("$IMAGE" "$TRIXIE_IMAGE" "$BARE_IMAGE")
  for img in "${want[@]}"; do
    local file=Dockerfile
    [[ "$img" == "$TRIXIE_IMAGE" ]] && file=Dockerfile.trixie
    [[ "$img" == "$BARE_IMAGE" ]] && file=Dockerfile.bare
    log "building $img from $file (a quick cache hit when nothing changed)"
    DOCKER_BUILDKIT=1 "$DOCKER" build -q --build-arg BASE_IMAGE=debian:bookworm-slim -f "$REPO/dockerfiles/testhost/$file" \
      -t "$img" "$REPO/dockerfiles/testhost" >/dev/null || die "docker build of $img failed"
  done
}

image_for() { # FLAVOUR -> image
  case "$1" in d20) echo "$IMAGE" ;; d26|ctrd) echo "$TRIXIE_IMAGE" ;; bare) echo "$BARE_IMAGE" ;; *) die "unknown flavour '$1' (d20, d26, ctrd or bare)" ;; esac
}

ensure_prereqs() {
  "$DOCKER" info >/dev/null 2>&1 || die "docker daemon not reachable (run scripts/setup.sh)"
  command -v ssh >/dev/null || die "ssh client missing (apt-get install openssh-client)"
  mkdir -p "$STATE"; chmod 700 "$STATE"
  if [[ ! -f "$KEY" ]]; then
    log "creating key pair $KEY"
    ssh-keygen -q -t ed25519 -N '' -C boxship-test -f "$KEY" </dev/null
  fi
  touch "$KNOWN_HOSTS"
  local f img
  for f in "$@"; do
    img="$(image_for "$f")"
    "$DOCKER" image inspect "$img" >/dev/null 2>&1 || build_image "$img"
  done
  "$DOCKER" network inspect "$NETWORK" >/dev/null 2>&1 \
    || { log "creating network $NETWORK"; "$DOCKER" network create "$NETWORK" >/dev/null; }
}

# known_hosts: one line per host, "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
known_hosts_drop() { # PORT
  [[ -f "$KNOWN_HOSTS" ]] || return 0
  local tmp; tmp="$(mktemp "$KNOWN_HOSTS.XXXXXX")"
  grep -v -F "[127.0.0.1]:$1 " "$KNOWN_HOSTS" > "$tmp" || true
  mv "$tmp" "$KNOWN_HOSTS"
}
known_hosts_set() { # PORT "ssh-ed25519 AAAA..."
  known_hosts_drop "$1"
  printf '[127.0.0.1]:%s %s\n' "$1" "$2" >> "$KNOWN_HOSTS"
}

parse_spec() { # SPEC -> sets NAME SSH_PORT HTTP_PORT FLAVOUR
  [[ "$1" =~ ^([A-Za-z0-9][A-Za-z0-9_.-]*):([0-9]+):([0-9]+)(:(d20|d26|ctrd|bare))?$ ]] \
    || die "bad host spec '$1' (want name:sshport:httpport[:d20|d26|ctrd|bare], e.g. a:2201:8081 or c:2203:8083:ctrd)"
  NAME="${BASH_REMATCH[1]}" SSH_PORT="${BASH_REMATCH[2]}" HTTP_PORT="${BASH_REMATCH[3]}" FLAVOUR="${BASH_REMATCH[5]:-d20}"
}

published() { # CONTAINER CONTAINER_PORT -> "127.0.0.1:NNNN" or empty
  "$DOCKER" port "$1" "$2/tcp" 2>/dev/null | head -n1
}

start_host() { # NAME SSH_PORT HTTP_PORT FLAVOUR
  local name="$1" sp="$2" hp="$3" flavour="$4" c="$PREFIX$1" image
  image="$(image_for "$flavour")"
  if running "$c"; then
    # A host started from another checkout trusts another key (a fresh clone makes its own): recreate it then.
    local want_key; want_key="AUTHORIZED_KEY=$(cat "$KEY.pub")"
    if ! "$DOCKER" inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$c" | grep -qxF "$want_key"; then
      # Another checkout's host: never ours to delete (its suite may be running on it right now).
      die "$name: $c belongs to another checkout ($(owner_of "$c")); pick other hosts for this one, e.g. BOXSHIP_TEST_HOSTS='x1:2221:8101 x2:2222:8102' npm test"
    elif [[ "$(published "$c" 22)" == "127.0.0.1:$sp" && "$(published "$c" 8080)" == "127.0.0.1:$hp" \
            && "$("$DOCKER" inspect -f '{{index .Config.Labels "dev.boxship.test-flavour"}}' "$c")" == "${flavour/#d20/}" ]]; then
      if [[ "$("$DOCKER" inspect -f '{{.Image}}' "$c")" != "$("$DOCKER" image inspect -f '{{.Id}}' "$image")" ]]; then
        log "$name: running an older $IMAGE (use 'reset $name:$sp:$hp' to refresh)"
      fi
      log "$name: already running"
      return 0
    else
      log "$name: running with other ports or another engine, recreating"
    fi
  fi
  if exists "$c"; then
    owned "$c" || die "$name: $c belongs to another checkout ($(owner_of "$c")); pick other host names (BOXSHIP_TEST_HOSTS)"
    "$DOCKER" rm -fv "$c" >/dev/null
  fi
  log "$name: starting $c ($flavour; ssh 127.0.0.1:$sp, http 127.0.0.1:$hp)"
  # Docker 26 hosts: containerd's state on a volume too, and the image store picked by the entrypoint.
  local extra=()
  case "$flavour" in
    d26)  extra=(-v /var/lib/containerd -e DOCKER_STORE=classic --label dev.boxship.test-flavour=d26) ;;
    ctrd) extra=(-v /var/lib/containerd -e DOCKER_STORE=containerd --label dev.boxship.test-flavour=ctrd) ;;
    bare) extra=(--label dev.boxship.test-flavour=bare) ;;
  esac
  # Plain --privileged fails on this machine; this is the working equivalent.
  # /var/lib/docker must be a volume: nested overlay2 cannot sit on overlayfs.
  "$DOCKER" run -d --pull never --name "$c" --hostname "$name" --network "$NETWORK" \
    --cap-add=ALL --cap-drop=SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v /var/lib/docker "${extra[@]}" \
    -e AUTHORIZED_KEY="$(cat "$KEY.pub")" --label "dev.boxship.test-checkout=$OWNER" \
    -p "127.0.0.1:$sp:22" -p "127.0.0.1:$hp:8080" \
    "$image" >/dev/null || die "$name: docker run failed (port $sp or $hp in use?)"
}

host_failed() { # NAME REASON
  local c="$PREFIX$1"
  log "$1: $2; container logs:"
  "$DOCKER" logs --tail 40 "$c" 2>&1 | sed 's/^/    /' >&2 || true
  if running "$c"; then
    log "$1: tail of /var/log/dockerd.log:"
    "$DOCKER" exec "$c" tail -n 20 /var/log/dockerd.log 2>&1 | sed 's/^/    /' >&2 || true
  fi
  exit 1
}

wait_host() { # NAME SSH_PORT FLAVOUR
  local name="$1" sp="$2" flavour="${3:-d20}" c="$PREFIX$1" deadline=$((SECONDS + UP_TIMEOUT)) hostkey=""
  while :; do
    running "$c" || host_failed "$name" "container exited"
    hostkey="$("$DOCKER" exec "$c" cat /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null || true)"
    [[ "$hostkey" == ssh-ed25519\ * ]] && break
    (( SECONDS < deadline )) || host_failed "$name" "no ssh host key after ${UP_TIMEOUT}s"
    sleep 0.3
  done
  read -r ktype kdata _ <<<"$hostkey"
  known_hosts_set "$sp" "$ktype $kdata"
  # A bare host has no Docker yet (boxship setup installs it): ssh answering is ready. A bare host that has been
  # set up answers docker info too, but is not waited for.
  local ready=(docker info)
  [[ "$flavour" == bare ]] && ready=(true)
  until ssh_host "$sp" "${ready[@]}" >/dev/null 2>&1; do
    running "$c" || host_failed "$name" "container exited"
    (( SECONDS < deadline )) || {
      ssh_host "$sp" "${ready[@]}" 2>&1 | tail -n 5 | sed 's/^/    /' >&2 || true
      host_failed "$name" "ssh + ${ready[*]} not ready after ${UP_TIMEOUT}s"
    }
    sleep 0.5
  done
  log "$name: ready (ssh -i $KEY -o UserKnownHostsFile=$KNOWN_HOSTS -p $sp root@127.0.0.1)"
}

cmd_up() {
  (( $# )) || set -- "${DEFAULT_SPECS[@]}"
  local spec flavours=()
  for spec in "$@"; do parse_spec "$spec"; flavours+=("$FLAVOUR"); done
  ensure_prereqs "${flavours[@]}"
  for spec in "$@"; do parse_spec "$spec"; start_host "$NAME" "$SSH_PORT" "$HTTP_PORT" "$FLAVOUR"; done
  for spec in "$@"; do parse_spec "$spec"; wait_host "$NAME" "$SSH_PORT" "$FLAVOUR"; done
}

cmd_down() {
  local names=() n c port
  if (( $# )); then
    for n in "$@"; do names+=("${n%%:*}"); done   # accept SPECs too
  else
    mapfile -t names < <("$DOCKER" ps -a --filter "name=^$PREFIX" --filter "label=dev.boxship.test-checkout=$OWNER" --format '{{.Names}}' | sed "s/^$PREFIX//")
  fi
  for n in "${names[@]}"; do
    c="$PREFIX$n"
    if exists "$c" && ! owned "$c"; then
      log "$n: belongs to another checkout ($(owner_of "$c")), left alone"
    elif exists "$c"; then
      port="$(published "$c" 22)"; port="${port##*:}"
      "$DOCKER" rm -fv "$c" >/dev/null
      [[ -n "$port" ]] && known_hosts_drop "$port"
      log "$n: removed"
    else
      log "$n: not present"
    fi
  done
}

cmd_reset() {
  (( $# )) || set -- "${DEFAULT_SPECS[@]}"
  cmd_down "$@"
  cmd_up "$@"
}

cmd_status() {
  local n c sp hp state ok
  mapfile -t names < <("$DOCKER" ps -a --filter "name=^$PREFIX" --format '{{.Names}}' | sort)
  if (( ${#names[@]} == 0 )); then echo "no test hosts (scripts/test-hosts.sh up)"; return 0; fi
  printf '%-8s %-10s %-16s %-16s %s\n' NAME STATE SSH HTTP DOCKER
  for c in "${names[@]}"; do
    n="${c#"$PREFIX"}"
    state="$("$DOCKER" inspect -f '{{.State.Status}}' "$c")"
    sp="$(published "$c" 22)"; hp="$(published "$c" 8080)"
    ok="-"
    if [[ "$state" == running && -n "$sp" && -f "$KEY" ]]; then
      ok="$(ssh_host "${sp##*:}" docker version -f '{{.Server.Version}}' 2>/dev/null || echo unreachable)"
    fi
    printf '%-8s %-10s %-16s %-16s %s\n' "$n" "$state" "${sp:--}" "${hp:--}" "$ok"
  done
}

case "${1:-}" in
  up)     shift; cmd_up "$@" ;;
  down)   shift; cmd_down "$@" ;;
  reset)  shift; cmd_reset "$@" ;;
  status) shift; cmd_status ;;
  build)  shift; "$DOCKER" info >/dev/null 2>&1 || die "docker daemon not reachable"; build_image "$@" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
