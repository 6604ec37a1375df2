#!/bin/bash
# Simulated server: start dockerd in the background, then run sshd in the foreground.
set -euo pipefail

mkdir -p /root/.ssh /run/sshd
chmod 700 /root/.ssh
if [[ -n "${AUTHORIZED_KEY:-}" ]]; then
  printf '%s\n' "$AUTHORIZED_KEY" > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
else
  echo "testhost: WARNING: AUTHORIZED_KEY is empty, nobody can log in" >&2
fi

ssh-keygen -A >/dev/null   # only creates host keys that are missing

# The bare image (Dockerfile.bare) has a non-root user too, with the same key, and no Docker until boxship installs it.
if id deploy >/dev/null 2>&1 && [[ -n "${AUTHORIZED_KEY:-}" ]]; then
  install -d -m 700 -o deploy -g deploy /home/deploy/.ssh
  printf '%s\n' "$AUTHORIZED_KEY" > /home/deploy/.ssh/authorized_keys
  chown deploy:deploy /home/deploy/.ssh/authorized_keys && chmod 600 /home/deploy/.ssh/authorized_keys
fi
if ! command -v dockerd >/dev/null; then
  echo "testhost: no Docker on this host (bare); sshd only" >&2
  exec /usr/sbin/sshd -D -e
fi

# A restarted container may leave stale pid files behind.
rm -f /var/run/docker.pid /run/docker/containerd/containerd.pid /run/containerd/containerd.pid

if [[ -n "${TESTHOST_OWN_CONTAINERD:-}" ]]; then
  # Docker 26 (trixie image): containerd runs as its own daemon, started first, and dockerd is pointed at it.
  # DOCKER_STORE picks the image store: containerd (the containerd snapshotter) or classic (overlay2).
  mkdir -p /etc/docker
  case "${DOCKER_STORE:-classic}" in
    containerd) echo '{"features":{"containerd-snapshotter":true}}' > /etc/docker/daemon.json ;;
    classic)    echo '{}' > /etc/docker/daemon.json ;;
    *) echo "testhost: DOCKER_STORE must be classic or containerd, not ${DOCKER_STORE}" >&2; exit 2 ;;
  esac
  containerd >>/var/log/containerd.log 2>&1 &
  for _ in $(seq 100); do [[ -S /run/containerd/containerd.sock ]] && break; sleep 0.1; done
  [[ -S /run/containerd/containerd.sock ]] || { echo "testhost: containerd did not start; see /var/log/containerd.log" >&2; exit 1; }
  # Without this, bridge networking fails here with "failed to disable IPv6 on container's interface eth0".
  DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1 dockerd --containerd=/run/containerd/containerd.sock \
    --host=unix:///var/run/docker.sock >>/var/log/dockerd.log 2>&1 &
  echo "testhost: containerd and dockerd (store: ${DOCKER_STORE:-classic}) started, logs in /var/log" >&2
else
  dockerd --host=unix:///var/run/docker.sock >>/var/log/dockerd.log 2>&1 &
  echo "testhost: dockerd started (pid $!), log in /var/log/dockerd.log" >&2
fi

exec /usr/sbin/sshd -D -e
