#!/usr/bin/env bash
# Builds the platform's default notebook image locally from Debian's packages: no registry is reachable
# here, so the docker runtime's default cannot be a public image (a production site names its own with
# MERIDIAN_NOTEBOOK_IMAGE on the control plane).
#
#   scripts/build-notebook-image.sh DOCKER_HOST   # e.g. unix:///tmp/x/docker.sock (from scripts/dockerd.sh)
#
# meridian/notebook:1   Debian's classic Jupyter notebook (6.4, the UI) and python3-ipykernel, with what
#                       they depend on and nothing else: no shell tools, no package manager. It runs as the
#                       non-root user jovyan (uid 1000; the agent's docker runtime runs it as each
#                       workload's own uid instead) and answers like an image of the jupyter/docker-stacks
#                       family: `start-notebook.sh --ServerApp.base_url=/notebooks/<id>/` (what the agent
#                       gives it) serves on 0.0.0.0:8888 under that base path, requires the token in
#                       JUPYTER_TOKEN, and serves notebooks from $HOME, where the runtime mounts the volume
#                       (/home/jovyan/work).
#
# How: apt resolves the packages' dependency closure as for an empty system (the host's apt sources, the
# same Debian release as the host's own Jupyter), less the tools only maintainer scripts use (dpkg,
# debconf, perl, ...); the .debs are downloaded, unpacked with dpkg-deb (no maintainer script runs: what
# they would do that matters here, the Python bytecode and the CA bundle, is done below), and the tree is
# `docker import`ed. Bump the tag when this recipe changes (control-plane/src/services/notebooks/deps.ts
# names it). Idempotent: an image that already exists is kept, and a machine keeps the last one it built
# (`docker save`, under ~/.cache/meridian/images) for engines started afresh. Runs as root (apt downloads,
# file owners).
set -euo pipefail

IMAGE=meridian/notebook:1
# The widgets extension: the classic UI asks for it on every page (a 404 in the browser without it).
PACKAGES=(jupyter-notebook python3-ipykernel jupyter-nbextension-jupyter-js-widgets dash)
# Depended on, but used only by maintainer scripts or a debugger attaching to a process (gdb, for
# python3-pydevd): left out, with what only they need (perl alone is 60 MB).
LEFT_OUT=(dpkg debconf perl-base init-system-helpers usrmerge openssl gdb)
# Unpacked but not kept: documentation, translations, and MathJax's unminified copy (the UI loads the
# minified one).
EXCLUDES=(./usr/share/doc ./usr/share/man ./usr/share/info ./usr/share/locale ./usr/share/lintian
  ./usr/share/javascript/mathjax/unpacked ./usr/share/javascript/mathjax/test)

host=${1:-${DOCKER_HOST:-}}
if [[ -z $host ]]; then
  echo "usage: $0 DOCKER_HOST (e.g. unix:///tmp/x/docker.sock)" >&2
  exit 2
fi
d() { docker -H "$host" "$@"; }
if d image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE"
  exit 0
fi
# The image as built last on this machine (`docker save`), for engines with a fresh data dir (each test
# run starts one): loading it takes seconds, building it a minute or more. Keyed by this script's content.
cache_dir=${MERIDIAN_IMAGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian/images}
cache=$cache_dir/notebook-1-$(sha256sum "$0" | cut -c 1-16).tar
mkdir -p "$cache_dir"
# One build at a time on a machine (test files running side by side each start an engine): the others wait,
# then load what it saved.
exec 9>"$cache_dir/.build.lock"
flock -w 900 9
if [[ -f $cache ]] && d load -q -i "$cache" >/dev/null 2>&1 && d image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "$0 builds $IMAGE as root (apt downloads, files owned by root and jovyan)" >&2
  exit 1
fi
started=$SECONDS
# On tmpfs where there is room: unpacking and removing ~20,000 files is several times faster there.
tmp=/tmp
shm_kib=$(df --output=avail -k /dev/shm 2>/dev/null | tail -n 1 | tr -d ' ')
if [[ $shm_kib =~ ^[0-9]+$ ]] && ((shm_kib > 2 * 1024 * 1024)); then tmp=/dev/shm; fi
work=$(mktemp -d -p "$tmp" meridian-notebook-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A bare machine may have no package lists yet.
apt-cache show jupyter-notebook >/dev/null 2>&1 || apt-get update -qq

# The packages left out, recorded as installed in an otherwise empty dpkg status: apt then resolves the
# closure without them and without anything only they need, and downloads it (each apt call here reads the
# whole package index, so there are two). Nothing on the host changes: private status, archives and locks.
apt-cache show --no-all-versions "${LEFT_OUT[@]}" |
  awk '/^(Package|Version|Architecture|Provides):/ { print } /^$/ { print "Status: install ok installed\n" }' \
    >"$work/status"
mkdir -p "$work/debs/partial"
apt-get install -qq --download-only -y --no-install-recommends -o Debug::NoLocking=1 \
  -o APT::Sandbox::User=root -o Dir::State::status="$work/status" -o Dir::Cache::archives="$work/debs" \
  "${PACKAGES[@]}" >/dev/null
# apt may fetch a left-out package again (it reinstalls what a status it did not write says is there).
for p in "${LEFT_OUT[@]}"; do rm -f "$work/debs/${p}_"*.deb; done
mapfile -t debs < <(find "$work/debs" -maxdepth 1 -name '*.deb')
downloaded=$SECONDS

# Debian 12's layout (merged /usr): /bin, /lib, /lib64 and /sbin are links into /usr.
rootfs=$work/rootfs
mkdir -p "$rootfs/usr"/{bin,lib,lib64,sbin}
for dir in bin lib lib64 sbin; do ln -s "usr/$dir" "$rootfs/$dir"; done
# Unpacked in parallel (xz decompression is most of the time), a few packages per process.
unpack() {
  local deb excludes
  read -ra excludes <<<"$EXCLUDES_LIST"
  for deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$ROOTFS" --keep-directory-symlink "${excludes[@]/#/--exclude=}"
  done
}
export -f unpack
export ROOTFS=$rootfs EXCLUDES_LIST="${EXCLUDES[*]}"
printf '%s\0' "${debs[@]}" | xargs -0 -P "$(nproc)" -n 8 bash -c 'unpack "$@"' unpack

# Bytecode ahead of time: the container's root is read-only, so Python could never cache it there, and
# compiling Jupyter's modules at every start triples the time to ready. With the image's own Python
# version (the host's, when it has the same one, compiles in parallel).
py=$(basename "$(find "$rootfs/usr/bin" -maxdepth 1 -name 'python3.[0-9]*' ! -name '*-*' | head -n 1)")
dirs=(/usr/lib/python3/dist-packages "/usr/lib/$py")
if command -v "$py" >/dev/null; then
  "$py" -m compileall -q -j 0 -s "$rootfs" -p / "${dirs[@]/#/$rootfs}" >/dev/null
else
  chroot "$rootfs" "/usr/bin/$py" -m compileall -q "${dirs[@]}" >/dev/null
fi

# What ca-certificates' maintainer script would have built: the bundle Python's ssl module reads.
mkdir -p "$rootfs/etc/ssl/certs"
cat "$rootfs"/usr/share/ca-certificates/mozilla/*.crt >"$rootfs/etc/ssl/certs/ca-certificates.crt"
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
jovyan:x:1000:100:Jupyter:/home/jovyan:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
printf 'root:x:0:\nusers:x:100:jovyan\nnogroup:x:65534:\n' >"$rootfs/etc/group"
mkdir -p "$rootfs/home/jovyan/work" "$rootfs/tmp" "$rootfs/root" "$rootfs/usr/local/bin"
chown -R 1000:100 "$rootfs/home/jovyan"
chmod 1777 "$rootfs/tmp"
cat >"$rootfs/usr/local/bin/start-notebook.sh" <<'START'
#!/bin/sh
# The docker-stacks interface on Debian's classic notebook: it is a NotebookApp, so options given for the
# ServerApp (what the agent passes: --ServerApp.base_url=...) are handed on as the NotebookApp's. The token
# comes from JUPYTER_TOKEN; notebooks live in $HOME, which the runtime points at the notebook's volume.
set -e
for arg do
  shift
  case $arg in
    --ServerApp.*) set -- "$@" "--NotebookApp.${arg#--ServerApp.}" ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec jupyter-notebook --ip=0.0.0.0 --port=8888 --no-browser "--NotebookApp.notebook_dir=${NOTEBOOK_DIR:-$HOME}" "$@"
START
chmod 755 "$rootfs/usr/local/bin/start-notebook.sh"
unpacked=$SECONDS

# The runtime dir (connection files, the cookie secret) on the container's private /tmp, not in the
# volume. PYDEVD_DISABLE_FILE_VALIDATION: the kernel's debugger otherwise warns on every start.
tar -C "$rootfs" --numeric-owner -c . | d import \
  --change 'USER 1000:100' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME=/home/jovyan/work USER=jovyan JUPYTER_RUNTIME_DIR=/tmp/jupyter-runtime PYDEVD_DISABLE_FILE_VALIDATION=1' \
  --change 'WORKDIR /home/jovyan/work' \
  --change 'EXPOSE 8888' \
  --change 'CMD ["start-notebook.sh"]' \
  - "$IMAGE" >/dev/null
d save -o "$work/image.tar" "$IMAGE"
mv -f "$work/image.tar" "$cache"
# Only the current recipe's image is kept.
find "$cache_dir" -maxdepth 1 -name 'notebook-*.tar' ! -name "${cache##*/}" -delete
size=$(d image inspect -f '{{.Size}}' "$IMAGE")
echo "built $IMAGE (${#debs[@]} Debian packages, $((size / 1024 / 1024)) MB) in $((SECONDS - started)) s:" \
  "download $((downloaded - started)) s, unpack and compile $((unpacked - downloaded)) s, import $((SECONDS - unpacked)) s" >&2
echo "$IMAGE"
