#!/usr/bin/env bash
# Today's best demo: a three-service stack (web + API + worker, healthchecks, depends_on, DNS by service name,
# a shared volume, a published port) converged by `gantry up`, offline, on the busybox image made by setup.
# The daemon starts by itself on the default socket (/run/gantry/gantry.sock, state in /var/lib/gantry).
set -euo pipefail
cd "$(dirname "$0")/.."
GANTRY="$PWD/bin/gantry.js"
g() { echo "\$ gantry $*"; node "$GANTRY" "$@"; }
node "$GANTRY" images --format json | grep -q '"busybox:latest"' || g import .fixtures/busybox.tar busybox
g run --rm --memory 32m --pids-limit 20 --cpus 0.5 busybox sh -c 'echo "hello from $(hostname), pid $$, in its own namespaces"'
cd examples/web-api-worker
trap 'node "$GANTRY" down -v --progress quiet >/dev/null 2>&1 || true' EXIT
g up -d --wait --progress plain
g stack ps
echo "\$ fetch http://127.0.0.1:18080/"
node -e "fetch('http://127.0.0.1:18080/').then(r => r.text()).then((t) => process.stdout.write(t))"
g stack exec web cat /www/api.json
echo
g up -d --progress plain   # unchanged: nothing to do
g down -v --progress plain
trap - EXIT
echo 'demo done'
