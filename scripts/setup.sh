#!/usr/bin/env bash
# Sets up a fresh machine (as root): OS packages the project needs, npm dependencies, the build, and the
# offline busybox rootfs used as the test/demo image. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v tar >/dev/null || need_pkgs+=(tar)
command -v git >/dev/null || need_pkgs+=(git)                 # the daemon runs the git CLI for deployments from git (src/deploy/git.ts)
command -v cc >/dev/null || need_pkgs+=(gcc libc6-dev)
command -v iptables >/dev/null || need_pkgs+=(iptables)       # FORWARD DROP inside a test's own netns (network-isolation test)
command -v musl-gcc >/dev/null || need_pkgs+=(musl-tools)   # the shim is built against musl: ~12 kB less memory per container (scripts/build.mjs)
command -v nft >/dev/null || need_pkgs+=(nftables)          # DNAT of published ports for local clients (port-dnat.ts), in our own table
command -v mmdebstrap >/dev/null || need_pkgs+=(mmdebstrap)   # real server images (scripts/make-server-images.mjs)
command -v docker-registry >/dev/null || need_pkgs+=(docker-registry)   # a registry on 127.0.0.1 (scripts/local-registry.sh, tests)
command -v skopeo >/dev/null || need_pkgs+=(skopeo)                     # pushes the server images; an independent client in registry and save/load tests
command -v htpasswd >/dev/null || need_pkgs+=(apache2-utils)  # bcrypt htpasswd entries for the registry's basic auth
command -v openssl >/dev/null || need_pkgs+=(openssl)         # the test registry's CA and certificate
command -v zstd >/dev/null || need_pkgs+=(zstd)              # zstd-compressed layers (src/engine/images/inflate.ts; Node 20 has no zstd)
command -v igzip >/dev/null || need_pkgs+=(isal)              # ISA-L's igzip inflates pulled layers 2.5x faster than zlib (src/engine/images/inflate.ts)
[ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)      # a private sshd on 127.0.0.1 for the deploy ssh:// test (policy-rc.d: never started as a service)
[ -x /usr/bin/docker-compose ] || need_pkgs+=(docker-compose)          # conformance tier: Docker's own clients against gantryd
[ -f /usr/lib/python3/dist-packages/docker/__init__.py ] || need_pkgs+=(python3-docker)   # for /usr/bin/python3 (a pyenv python3 may shadow it)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null 2>&1 \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null; }
fi
# The package enables a registry on :5000 (all interfaces) where systemd runs; tests start their own on loopback.
if command -v systemctl >/dev/null && systemctl is-enabled docker-registry >/dev/null 2>&1; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
mkdir -p .fixtures
[ -f .fixtures/busybox.tar ] || bash scripts/make-busybox-rootfs.sh .fixtures/busybox.tar >/dev/null
echo "setup done: node $(node -v), $(bin/gantry --help >/dev/null 2>&1 && echo 'gantry built')"
