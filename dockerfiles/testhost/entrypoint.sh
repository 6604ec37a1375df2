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

# A restarted container may leave stale pid files behind.
rm -f /var/run/docker.pid /run/docker/containerd/containerd.pid
dockerd --host=unix:///var/run/docker.sock >>/var/log/dockerd.log 2>&1 &
echo "testhost: dockerd started (pid $!), log in /var/log/dockerd.log" >&2

exec /usr/sbin/sshd -D -e
