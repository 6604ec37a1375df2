#!/usr/bin/env bash
# Make a Debian 12 machine ready to develop and test boxship (run as root; no stdin needed):
#   apt packages -> dockerd running -> npm ci -> local base images -> proxy and test host images (Docker 20.10 and 26).
# Idempotent: every step is skipped (or a cache hit) when already done.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# isal: ISA-L's igzip, which boxship uses (when present) to compress gzip layers, ~6x faster than zlib.
# pebble: an ACME test CA (with pebble-challtestsrv) that the edge tests get real certificates from (test/helpers/pebble.ts);
# openssl makes the certificate of its own listener.
APT_PACKAGES=(docker.io openssh-client debootstrap caddy iptables ca-certificates git isal pebble openssl)
DOCKERD_LOG=/var/log/dockerd.log
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
step_start=0
step() { step_start=$SECONDS; log "== $*"; }
step_done() { log "   done in $((SECONDS - step_start))s"; }

as_root() { if [[ $EUID -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else die "need root for: $*"; fi; }

installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]; }

step "apt packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  # Any working Docker engine will do (e.g. docker-ce); only add docker.io if there is none.
  if [[ "$p" == docker.io ]] && command -v dockerd >/dev/null; then continue; fi
  installed "$p" || missing+=("$p")
done
if ! command -v node >/dev/null; then
  # Debian's own nodejs is 18; only a configured NodeSource repo gives Node 20.
  missing+=(nodejs)
fi
if (( ${#missing[@]} )); then
  log "installing: ${missing[*]}"
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
else
  log "all present: ${APT_PACKAGES[*]}"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
(( node_major >= 20 )) || die "Node >= 20 is required (found $(node --version 2>/dev/null || echo none)); install the NodeSource nodejs 20 package"
step_done

step "docker daemon"
if docker info >/dev/null 2>&1; then
  log "dockerd is running"
else
  command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
  log "starting dockerd (log: $DOCKERD_LOG)"
  as_root setsid dockerd >"$DOCKERD_LOG" 2>&1 < /dev/null &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    log "dockerd did not answer within 60s; last lines of $DOCKERD_LOG:"
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    exit 1
  fi
  log "dockerd is up"
fi
step_done

step "npm dependencies"
cd "$REPO"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  # The lockfile lists every platform's optional packages (written with `npm install --package-lock-only`
  # against the registry), so npm ci installs it as is on any machine.
  npm ci --no-audit --no-fund </dev/null || die "npm ci failed (if package.json changed, run: npm install --package-lock-only)"
else
  log "node_modules is up to date with package-lock.json"
fi
step_done

step "extra CA for example builds"
# Git-ignored: example configs name it in build.include, the one way a file from outside git enters a build.
ca=/etc/ssl/certs/ca-certificates.crt dest="$REPO/examples/hello/extra-ca.crt"
if [[ -f "$ca" ]]; then
  if cmp -s "$ca" "$dest"; then log "examples/hello/extra-ca.crt is current"
  else cp "$ca" "$dest"; log "copied $ca to examples/hello/extra-ca.crt"; fi
else
  log "no $ca; builds will use the image's own CAs"
fi
step_done

step "base images (debian:bookworm-slim, node:20-bookworm-slim)"
bash "$REPO/scripts/base-images.sh"
step_done

# boxship builds these itself when a setup needs one and this machine lacks it (src/image/packaged.ts); built here
# ahead, with the label it gives them (the Dockerfile's sha256), so that it takes them as they are. A changed
# Dockerfile makes a new image, which the next setup ships to the test hosts (and restarts their proxy once).
build_proxy_image() { # TAG FOLDER
  local digest; digest="sha256:$(sha256sum "$REPO/dockerfiles/$2/Dockerfile" | cut -d' ' -f1)"
  DOCKER_BUILDKIT=1 /usr/bin/docker build -q --build-arg BASE_IMAGE=debian:bookworm-slim \
    --label "dev.boxship.dockerfile=$digest" -t "$1" "$REPO/dockerfiles/$2" >/dev/null
}

step "proxy image (boxship-proxy:caddy-2.6.2, Debian's Caddy)"
# The default proxy.image: boxship ships it to each host from here, layer-thin like a release.
build_proxy_image boxship-proxy:caddy-2.6.2 proxy
step_done

step "proxy image with current Caddy (boxship-proxy:caddy-2.11.4, Debian sid's .deb)"
# What `caddy:2` means today, built without a registry: the tests and benches run against it with
# BOXSHIP_TEST_PROXY_IMAGE=boxship-proxy:caddy-2.11.4.
build_proxy_image boxship-proxy:caddy-2.11.4 proxy-caddy-2.11
step_done

step "test host images (boxship-testhost:latest: Docker 20.10; boxship-testhost:trixie: Docker 26, either store; boxship-testhost:bare: no Docker)"
# Both FROM the local debian:bookworm-slim (trixie's Docker through an apt source: no registry); a cache hit when
# nothing changed. The integration tests run on a mixed fleet of the first two; the bootstrap test on a bare one.
bash "$REPO/scripts/test-hosts.sh" build
step_done

log "ready. Next: npm run demo, or npm test"
