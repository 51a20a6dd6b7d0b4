#!/usr/bin/env bash
# Today's best demo: a real stack, offline. nginx in front of a Python app that counts visits in PostgreSQL,
# three images built from Debian's packages (scripts/make-server-images.mjs, cached after the first run), pushed
# to a registry on 127.0.0.1 (Debian's docker-registry, scripts/local-registry.sh) and pulled from it by
# `gantry up`: only missing layers travel. Then `gantry up` again is a no-op, and `gantry down -v` removes it all.
# The daemon starts by itself on the default socket (/run/gantry/gantry.sock, state in /var/lib/gantry).
set -euo pipefail
cd "$(dirname "$0")/.."
GANTRY="$PWD/bin/gantry"
g() { echo "\$ gantry $*"; "$GANTRY" "$@"; }
fetch() { echo "\$ fetch $1"; node -e "fetch('$1').then(r => r.text()).then((t) => process.stdout.write(t))"; }

echo '# the images: Debian packages → one-layer images with their config (built once, then cached)'
node scripts/make-server-images.mjs nginx postgres python
root="$PWD"
registry_dir="$root/.fixtures/demo-registry"
project="$root/examples/visits"
# the registry keeps port 5000 between runs when it is free, so a second demo pulls nothing
port=$(node -e "const s=require('net').createServer().once('error',()=>console.log('')).listen(5000,'127.0.0.1',()=>{s.close();console.log(5000)})")
REGISTRY=$(bash scripts/local-registry.sh start "$registry_dir" $port)
registry() { bash "$root/scripts/local-registry.sh" "$@"; }
export REGISTRY
cleanup() {
  (cd "$project" && "$GANTRY" down -v --progress quiet >/dev/null 2>&1) || true
  registry stop "$registry_dir"
}
trap cleanup EXIT
echo "# registry on $REGISTRY; pushing the images with skopeo"
registry push "$registry_dir" nginx postgres python

"$GANTRY" images --format json | grep -q '"busybox:latest"' || g import .fixtures/busybox.tar busybox
g run --rm --memory 32m --pids-limit 20 --cpus 0.5 busybox sh -c 'echo "hello from $(hostname), pid $$, in its own namespaces"'
cd "$project"
g pull "$REGISTRY/nginx:1.22"            # only missing layers travel: a second run says it is up to date
g up -d --wait --progress plain        # pulls what is missing, db healthy → app healthy → web
g stack ps
fetch http://127.0.0.1:18081/
fetch http://127.0.0.1:18081/
g stack exec -T db psql -U postgres -d visits -tAc 'select count(*) from visits'
g up -d --progress plain               # unchanged: nothing to do
g images
g down -v --progress plain
trap - EXIT
registry stop "$registry_dir"
echo 'demo done'
