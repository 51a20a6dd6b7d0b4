#!/usr/bin/env bash
# Today's best demo: the default daemon starts by itself, imports the offline busybox image and runs isolated
# containers with quotas. Uses the default socket (/run/gantry/gantry.sock) and root (/var/lib/gantry).
set -euo pipefail
cd "$(dirname "$0")/.."
g() { node bin/gantry.js "$@"; }
g images --format json | grep -q '"busybox:latest"' || g import .fixtures/busybox.tar busybox
echo '$ gantry run --rm busybox sh -c "hostname; id; ps"'
g run --rm busybox sh -c 'hostname; id; ps'
echo '$ gantry run --rm -m 16m --pids-limit 20 --cpus 0.5 busybox sh -c "echo limits applied; cat /proc/self/cgroup | head -3"'
g run --rm -m 16m --pids-limit 20 --cpus 0.5 busybox sh -c 'echo limits applied; cat /proc/self/cgroup | head -3'
echo '$ gantry run -d --name demo-web busybox httpd -f -p 8080'
g rm -f demo-web >/dev/null 2>&1 || true
g run -d --name demo-web busybox httpd -f -p 8080 >/dev/null
g ps
g exec demo-web sh -c 'echo hello from exec in $(hostname)'
g rm -f demo-web >/dev/null
echo 'demo done'
