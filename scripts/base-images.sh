#!/usr/bin/env bash
# Ensure the two "Docker Hub" base images exist locally, built without a registry:
#   debian:bookworm-slim   - debootstrap minbase rootfs, slimmed, `docker import`ed
#   node:20-bookworm-slim  - FROM debian:bookworm-slim + this machine's /usr/bin/node and npm
# Each image is skipped if `docker image inspect` already finds it.
# Env: ROOTFS (default /var/cache/boxship/rootfs), FORCE=1 to rebuild both.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOTFS="${ROOTFS:-/var/cache/boxship/rootfs}"
DEBIAN_IMAGE="debian:bookworm-slim"
NODE_IMAGE="node:20-bookworm-slim"
DOCKER="${DOCKER:-/usr/bin/docker}"   # the 20.10 client: BuildKit builds work without buildx
[[ -x "$DOCKER" ]] || DOCKER="$(command -v docker)"

log() { printf '[base-images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

"$DOCKER" info >/dev/null 2>&1 || die "docker daemon not reachable (run scripts/setup.sh)"

TMP=""
cleanup() { [[ -n "$TMP" ]] && rm -rf "$TMP"; return 0; }
trap cleanup EXIT

ensure_rootfs() {
  if [[ -f "$ROOTFS/etc/debian_version" ]]; then
    log "reusing rootfs $ROOTFS (Debian $(cat "$ROOTFS/etc/debian_version"))"
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
  log "creating rootfs with debootstrap in $ROOTFS (about a minute)"
  rm -rf "$ROOTFS.partial"
  mkdir -p "$(dirname "$ROOTFS")"
  debootstrap --variant=minbase bookworm "$ROOTFS.partial" http://deb.debian.org/debian >&2 \
    || die "debootstrap failed (see $ROOTFS.partial/debootstrap/debootstrap.log)"
  rm -rf "$ROOTFS"
  mv "$ROOTFS.partial" "$ROOTFS"
}

build_debian() {
  if [[ "${FORCE:-}" != 1 ]] && have_image "$DEBIAN_IMAGE"; then
    log "$DEBIAN_IMAGE present, skipping"
    return
  fi
  ensure_rootfs
  TMP="$(mktemp -d "$(dirname "$ROOTFS")/.slim.XXXXXX")"
  local stage="$TMP/rootfs"
  # Hard-link copy (cheap, same filesystem); we only delete or add files in it,
  # never edit in place, so the cached rootfs is left untouched.
  cp -al "$ROOTFS" "$stage" 2>/dev/null || cp -a "$ROOTFS" "$stage"
  # Slim it like the official image: no apt caches/lists, docs, man pages, locales.
  rm -rf "$stage"/var/cache/apt/archives/*.deb "$stage"/var/cache/apt/*.bin \
         "$stage"/var/lib/apt/lists/*_* "$stage"/var/log/*.log "$stage"/var/log/apt/* \
         "$stage"/usr/share/man/* "$stage"/usr/share/info/* "$stage"/usr/share/groff/* \
         "$stage"/usr/share/lintian/* "$stage"/usr/share/locale/* "$stage"/debootstrap
  find "$stage/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$stage/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -f "$stage/etc/apt/sources.list" "$stage/etc/hostname" "$stage/etc/resolv.conf"
  mkdir -p "$stage/etc/apt/sources.list.d" "$stage/etc/apt/apt.conf.d" "$stage/etc/dpkg/dpkg.cfg.d"
  cat > "$stage/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat > "$stage/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
DPKG
  cat > "$stage/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  printf 'Acquire::Languages "none";\n' > "$stage/etc/apt/apt.conf.d/docker-no-languages"
  printf 'APT::AutoRemove::SuggestsImportant "false";\n' > "$stage/etc/apt/apt.conf.d/docker-autoremove-suggests"
  log "importing $stage as $DEBIAN_IMAGE"
  tar --numeric-owner --xattrs -C "$stage" -c . \
    | "$DOCKER" import -c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -m "debootstrap --variant=minbase bookworm (scripts/base-images.sh)" - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$TMP"; TMP=""
  "$DOCKER" run --rm "$DEBIAN_IMAGE" cat /etc/debian_version >/dev/null || die "$DEBIAN_IMAGE does not run"
  log "built $DEBIAN_IMAGE"
}

build_node() {
  if [[ "${FORCE:-}" != 1 ]] && have_image "$NODE_IMAGE"; then
    log "$NODE_IMAGE present, skipping"
    return
  fi
  local node_bin=/usr/bin/node npm_dir=/usr/lib/node_modules/npm
  [[ -x "$node_bin" ]] || die "$node_bin missing (install the nodesource nodejs package)"
  [[ -f "$npm_dir/bin/npm-cli.js" ]] || die "$npm_dir missing"
  local version; version="$("$node_bin" --version)"; version="${version#v}"
  [[ "$version" == 20.* ]] || log "WARNING: host node is $version, image is tagged $NODE_IMAGE"
  TMP="$(mktemp -d)"
  cp "$node_bin" "$TMP/node"
  cp -a "$npm_dir" "$TMP/npm"
  log "building $NODE_IMAGE (node $version) FROM $DEBIAN_IMAGE"
  DOCKER_BUILDKIT=1 "$DOCKER" build -q \
    --build-arg BASE_IMAGE="$DEBIAN_IMAGE" --build-arg NODE_VERSION="$version" \
    -f "$REPO/dockerfiles/node-base/Dockerfile" -t "$NODE_IMAGE" "$TMP" >/dev/null \
    || die "docker build of $NODE_IMAGE failed"
  rm -rf "$TMP"; TMP=""
  log "built $NODE_IMAGE"
}

build_debian
build_node
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' \
  | awk -v a="$DEBIAN_IMAGE" -v b="$NODE_IMAGE" '$1 == a || $1 == b { print "[base-images]   " $0 }' >&2 || true
