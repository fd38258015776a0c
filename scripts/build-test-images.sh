#!/usr/bin/env bash
# Builds the images the gpu-agent docker runtime's tests run, locally: no registry is reachable here.
#
#   scripts/build-test-images.sh DOCKER_HOST   # e.g. unix:///tmp/x/docker.sock (from scripts/dockerd.sh)
#
# meridian-test/busybox:1       a rootfs of Debian's busybox-static, made with `docker import`
# meridian-test/busybox-http:1  FROM it: `httpd -f -p 8080 -h /www` serving /www/v2/health/ready, a stand-in
#                               for a model-server image that speaks the Open Inference Protocol's health
# Idempotent: an image that already exists is kept.
set -euo pipefail

host=${1:-${DOCKER_HOST:-}}
if [[ -z $host ]]; then
  echo "usage: $0 DOCKER_HOST (e.g. unix:///tmp/x/docker.sock)" >&2
  exit 2
fi
if [[ ! -x /bin/busybox ]] || ! grep -qx httpd <<<"$(/bin/busybox --list)"; then
  echo "busybox with httpd not found: run scripts/ensure-system-deps.mjs as root (installs busybox-static)" >&2
  exit 1
fi
d() { DOCKER_BUILDKIT=0 docker -H "$host" "$@"; }
has() { d image inspect "$1" >/dev/null 2>&1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! has meridian-test/busybox:1; then
  mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/etc"
  # 1777 as in any distribution: a container's non-root user writes its temp files there.
  chmod 1777 "$work/rootfs/tmp"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in sh httpd sleep cat echo ls mkdir touch test true wget env; do
    ln -sf busybox "$work/rootfs/bin/$applet"
  done
  # A passwd line so `USER`-less containers and httpd have a root user to resolve.
  echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
  tar -C "$work/rootfs" -c . | d import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - meridian-test/busybox:1 >/dev/null
fi

if ! has meridian-test/busybox-http:1; then
  mkdir -p "$work/http"
  cat >"$work/http/Dockerfile" <<'DOCKERFILE'
FROM meridian-test/busybox:1
RUN mkdir -p /www/v2/health && echo ready > /www/v2/health/ready && echo live > /www/v2/health/live
EXPOSE 8080
# exec, so httpd is PID 1 and gets the stop signal itself.
CMD ["/bin/sh", "-c", "echo 'busybox-http serving on :8080'; exec httpd -f -v -p 8080 -h /www"]
DOCKERFILE
  # The legacy builder (BuildKit needs a plugin Debian does not ship) warns on stderr; show it only on failure.
  if ! out=$(d build -q -t meridian-test/busybox-http:1 "$work/http" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
fi
echo "built meridian-test/busybox:1 meridian-test/busybox-http:1"
