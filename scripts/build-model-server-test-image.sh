#!/usr/bin/env bash
# Builds meridian-test/linear-oip:1, a custom model-server image as a tenant would bring one: FROM an image
# with Python (the platform's notebook image, built here from Debian's packages: no registry is reachable),
# adding scripts/test-images/linear_oip_server.py, which serves a pickled linear model over OIP v2 on :8080.
#
#   scripts/build-model-server-test-image.sh DOCKER_HOST   # e.g. unix:///tmp/x/docker.sock
#
# Idempotent: an image that already exists is kept.
set -euo pipefail
host=${1:-${DOCKER_HOST:-}}
if [[ -z $host ]]; then
  echo "usage: $0 DOCKER_HOST (e.g. unix:///tmp/x/docker.sock)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
d() { DOCKER_BUILDKIT=0 docker -H "$host" "$@"; }
d image inspect meridian-test/linear-oip:1 >/dev/null 2>&1 && exit 0
"$here/build-notebook-image.sh" "$host" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/test-images/linear_oip_server.py" "$work/"
cat >"$work/Dockerfile" <<'DOCKERFILE'
FROM meridian/notebook:1
COPY linear_oip_server.py /srv/linear_oip_server.py
EXPOSE 8080
CMD ["python3", "/srv/linear_oip_server.py"]
DOCKERFILE
# The legacy builder (BuildKit needs a plugin Debian does not ship) warns on stderr; show it only on failure.
if ! out=$(d build -q -t meridian-test/linear-oip:1 "$work" 2>&1); then
  echo "$out" >&2
  exit 1
fi
echo "built meridian-test/linear-oip:1"
