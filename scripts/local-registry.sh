#!/usr/bin/env bash
# A registry on 127.0.0.1 for the demo and benchmarks: Debian's docker-registry (distribution 2.8), plain HTTP
# on loopback only, its storage and pid file in DIR.
#   scripts/local-registry.sh start DIR [PORT]   starts it (a free port unless PORT), prints 127.0.0.1:PORT
#   scripts/local-registry.sh push DIR IMAGE...  pushes server images (scripts/make-server-images.mjs) with skopeo
#   scripts/local-registry.sh stop DIR           stops it (by its pid); the storage stays for the next start
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:?usage: $0 start|push|stop DIR ...}
dir=${2:?usage: $0 $cmd DIR ...}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
  start)
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then cat "$dir/addr"; exit 0; fi
    command -v docker-registry >/dev/null || { echo "error: docker-registry is not installed (apt-get install docker-registry)" >&2; exit 1; }
    port=${3:-$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}
    cat > "$dir/config.yml" <<CONF
version: 0.1
log: { level: warn, accesslog: { disabled: false } }
storage:
  filesystem: { rootdirectory: $dir/data }
  delete: { enabled: true }
http: { addr: 127.0.0.1:$port }
CONF
    setsid docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 < /dev/null &
    echo $! > "$dir/pid"
    echo "127.0.0.1:$port" > "$dir/addr"
    for _ in $(seq 100); do
      node -e "fetch('http://127.0.0.1:$port/v2/').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" 2>/dev/null && { echo "127.0.0.1:$port"; exit 0; }
      sleep 0.1
    done
    echo "error: the registry did not answer on 127.0.0.1:$port; its log: $dir/log" >&2
    exit 1 ;;
  push)
    shift 2
    addr=$(cat "$dir/addr")
    while read -r name tag image_dir; do
      skopeo copy --quiet --dest-tls-verify=false "oci:$image_dir/oci:$tag" "docker://$addr/$name:$tag"
    done < <(node scripts/make-server-images.mjs --print "$@")
    ;;
  stop)
    if [ -f "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; rm -f "$dir/pid"; fi ;;
  *) echo "usage: $0 start|push|stop DIR ..." >&2; exit 2 ;;
esac
