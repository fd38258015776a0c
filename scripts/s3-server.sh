#!/usr/bin/env bash
# A real S3 server on loopback for the S3 adapter's tests and local runs: OpenStack Swift with its s3api
# middleware, from Debian's packages (swift swift-proxy swift-account swift-container swift-object
# memcached; scripts/ensure-system-deps.mjs installs them). Unlike a fake S3 it checks SigV4 signatures,
# presigned URLs, multipart uploads, ranged GETs and ListObjectsV2.
#
#   scripts/s3-server.sh start DIR [PORT|auto]   # S3 endpoint on 127.0.0.1:PORT (default 18840; auto = free)
#   scripts/s3-server.sh stop DIR
#
# start prints `S3_ENDPOINT=http://127.0.0.1:PORT` as its last line and writes the URL to DIR/endpoint once
# the proxy and its backends answer. Credentials: access key "test:tester", secret "testing", region
# us-east-1, path-style URLs.
set -euo pipefail

cmd=${1:-} dir=${2:-} port=${3:-18840}
if [[ -z $dir || ($cmd != start && $cmd != stop) ]]; then
  echo "usage: $0 start DIR [PORT|auto] | stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"/{etc,srv/d1,run,log}
dir=$(cd "$dir" && pwd)

# Each server runs in its own process group (setsid), so a signal to the group reaches its workers too.
# Swift drains keep-alive connections on SIGTERM, which can take seconds; after 1 s the rest get SIGKILL.
stop() {
  local p pids=()
  for p in "$dir"/run/*.pid; do
    [[ -f $p ]] && pids+=("$(cat "$p")")
    rm -f "$p"
  done
  ((${#pids[@]})) || return 0
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 20); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.05
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}

if [[ $cmd == stop ]]; then
  stop
  exit 0
fi

for bin in swift-proxy-server swift-account-server swift-container-server swift-object-server swift-ring-builder memcached; do
  command -v "$bin" >/dev/null || { echo "$bin not found: run node scripts/ensure-system-deps.mjs" >&2; exit 1; }
done

# Five ports: the S3 proxy, then account, container, object servers and memcached. `auto` asks the kernel
# for free ones (all held open together, so they are distinct), which lets parallel test runs coexist.
if [[ $port == auto ]]; then
  read -r -a ports < <(node -e '
    const net = require("node:net");
    const servers = Array.from({ length: 5 }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((r) => s.listen(0, "127.0.0.1", () => r(s.address().port)))))
      .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });')
else
  ports=("$port" $((port + 1)) $((port + 2)) $((port + 3)) $((port + 4)))
fi
proxy_port=${ports[0]} mc_port=${ports[4]}
user=$(id -un)

common() { # $1 = bind port
  cat <<CONF
[DEFAULT]
user = $user
bind_ip = 127.0.0.1
bind_port = $1
swift_dir = $dir/etc
devices = $dir/srv
mount_check = false
workers = 1
log_address = /dev/null
log_level = WARNING
CONF
}

cat >"$dir/etc/swift.conf" <<CONF
[swift-hash]
swift_hash_path_suffix = meridian-test
swift_hash_path_prefix = meridian-test
[storage-policy:0]
name = Policy-0
default = yes
CONF

i=1
for s in account container object; do
  { common "${ports[$i]}"; printf '\n[pipeline:main]\npipeline = %s-server\n\n[app:%s-server]\nuse = egg:swift#%s\n' "$s" "$s" "$s"; } \
    >"$dir/etc/$s-server.conf"
  # The ring names the backend's port, so it is rebuilt on every start (ports may differ from the last run).
  rm -f "$dir/etc/$s.builder" "$dir/etc/$s.ring.gz"
  (cd "$dir/etc" && swift-ring-builder "$s.builder" create 8 1 1 >/dev/null &&
    swift-ring-builder "$s.builder" add "r1z1-127.0.0.1:${ports[$i]}/d1" 100 >/dev/null &&
    { swift-ring-builder "$s.builder" rebalance >/dev/null || [[ $? == 1 ]]; })
  i=$((i + 1))
done

{ common "$proxy_port"; cat <<CONF

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
s3_acl = false
allow_multipart_uploads = true

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc_port

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
CONF
} >"$dir/etc/proxy-server.conf"

stop # a previous run in the same dir
mc_user=()
[[ $(id -u) == 0 ]] && mc_user=(-u root)
setsid memcached -l 127.0.0.1 -p "$mc_port" -U 0 -m 64 "${mc_user[@]}" >"$dir/log/memcached.log" 2>&1 &
echo $! >"$dir/run/memcached.pid"
for s in account container object proxy; do
  setsid "swift-$s-server" "$dir/etc/$s-server.conf" >"$dir/log/$s.log" 2>&1 &
  echo $! >"$dir/run/$s.pid"
done

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ready() {
  local p
  for p in "${ports[@]:1}"; do listening "$p" || return 1; done
  curl -sf "http://127.0.0.1:$proxy_port/healthcheck" >/dev/null
}
for _ in $(seq 1 300); do # up to ~15 s
  if ready; then
    echo "http://127.0.0.1:$proxy_port" >"$dir/endpoint"
    echo "S3_ENDPOINT=http://127.0.0.1:$proxy_port"
    exit 0
  fi
  for p in "$dir"/run/*.pid; do
    kill -0 "$(cat "$p")" 2>/dev/null || { echo "$(basename "$p" .pid) exited; logs in $dir/log" >&2; tail -n 20 "$dir/log/$(basename "$p" .pid).log" >&2; stop; exit 1; }
  done
  sleep 0.05
done
echo "s3 (swift) did not become ready in 15 s; logs in $dir/log" >&2
stop
exit 1
