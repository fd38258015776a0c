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

# Engines on one host share the default bridge, docker0 (172.17.0.0/16), but each hands out its containers'
# addresses on it by itself: two engines that both allocate from the whole /16 both give their first
# container 172.17.0.2, and a call to it reaches whichever answers (the unit and end-to-end runs each start
# an engine, side by side, in `npm test`). So each engine takes a /24 of its own, 172.17.N.0/24, held as
# the directory $slots/N naming the engine's DIR until it stops; a slot whose DIR is gone (an engine killed
# with its test) is free again. Slots are taken under a lock, so two starts never both take back one.
slots=/run/meridian-dockerd-slots
release_slot() {
  local slot
  for slot in "$slots"/*; do
    [[ -f $slot/dir && $(cat "$slot/dir") == "$dir" ]] && rm -rf "$slot"
  done
  return 0
}
take_slot() {
  mkdir -p "$slots"
  local n owner
  exec 9>"$slots/.lock"
  flock 9
  for n in $(seq 1 254); do
    owner=$(cat "$slots/$n/dir" 2>/dev/null || true)
    # Under the lock, a slot naming no DIR was left by a start killed between its mkdir and its write.
    if [[ -d $slots/$n && (-z $owner || ! -d $owner) ]]; then rm -rf "${slots:?}/$n"; fi
    if mkdir "$slots/$n" 2>/dev/null; then
      echo "$dir" >"$slots/$n/dir"
      exec 9>&-
      echo "$n"
      return 0
    fi
  done
  exec 9>&-
  echo "every one of docker0's 254 address ranges is held by an engine (see $slots)" >&2
  return 1
}

stop() {
  release_slot
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
# engine on the host; the default bridge (docker0) is shared, which port publishing needs, each engine
# giving out addresses from its own /24 of it (above).
release_slot
slot=$(take_slot)
dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
  -H "unix://$sock" --default-ulimit nofile=20000:20000 \
  --bip 172.17.0.1/16 --fixed-cidr "172.17.$slot.0/24" >"$dir/dockerd.log" 2>&1 &
for _ in $(seq 1 400); do
  if ping; then
    echo "DOCKER_HOST=unix://$sock"
    exit 0
  fi
  sleep 0.05
done
echo "dockerd did not become ready within 20 s; see $dir/dockerd.log" >&2
tail -n 20 "$dir/dockerd.log" >&2 || true
stop
exit 1
