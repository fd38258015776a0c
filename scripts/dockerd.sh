#!/usr/bin/env bash
# A real Docker engine on a private unix socket, from Debian's docker.io (scripts/ensure-system-deps.mjs
# installs it), for the gpu-agent docker runtime's tests and local runs. Runs as root. Its state (images,
# containers, volumes) lives under DIR, so it never touches a system engine's /var/lib/docker.
#
#   scripts/dockerd.sh start DIR   # prints DOCKER_HOST=unix://DIR/docker.sock once the engine answers /_ping
#   scripts/dockerd.sh stop DIR    # stops the engine (SIGTERM, then SIGKILL after 10 s); DIR is kept
#
# No registry is reachable here: build images locally (scripts/build-test-images.sh).
set -euo pipefail

cmd=${1:-} dir=${2:-}
if [[ -z $dir || ($cmd != start && $cmd != stop) ]]; then
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock="$dir/docker.sock"

stop() {
  [[ -f $dir/dockerd.pid ]] || return 0
  local pid
  pid=$(cat "$dir/dockerd.pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  # dockerd stops its containers (10 s grace each by default) before it exits; wait for that, bounded.
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

if [[ $cmd == stop ]]; then
  stop
  exit 0
fi

if ! command -v dockerd >/dev/null; then
  echo "dockerd not found: run scripts/ensure-system-deps.mjs as root (installs docker.io)" >&2
  exit 1
fi
ping() { curl -s --max-time 1 --unix-socket "$sock" http://d/_ping 2>/dev/null | grep -q OK; }
if ping; then
  echo "DOCKER_HOST=unix://$sock"
  exit 0
fi

# A private exec-root keeps containerd's and the engine's sockets and netns files apart from any other
# engine on the host; the default bridge (docker0) is shared, which port publishing needs.
dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
  -H "unix://$sock" --default-ulimit nofile=20000:20000 >"$dir/dockerd.log" 2>&1 &
for _ in $(seq 1 400); do
  if ping; then
    echo "DOCKER_HOST=unix://$sock"
    exit 0
  fi
  sleep 0.05
done
echo "dockerd did not become ready within 20 s; see $dir/dockerd.log" >&2
tail -n 20 "$dir/dockerd.log" >&2 || true
exit 1
