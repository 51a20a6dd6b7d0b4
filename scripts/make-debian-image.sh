#!/usr/bin/env bash
# Builds a root filesystem tarball of Debian packages with mmdebstrap, from this machine's apt sources (no
# registry needed): the real server images tests and benchmarks use (nginx, redis, ...).
# Usage: scripts/make-debian-image.sh OUT.tar PACKAGE...     (as root; apt-get install mmdebstrap)
# The result is written under a temporary name and renamed, so an interrupted build leaves no half tarball.
set -euo pipefail

out=${1:?usage: $0 OUT.tar PACKAGE...}
shift
[ $# -gt 0 ] || { echo "usage: $0 OUT.tar PACKAGE..." >&2; exit 2; }
command -v mmdebstrap >/dev/null || { echo "error: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# essential: just what dpkg needs, plus the packages; docs, man pages and locales are left out.
mmdebstrap --quiet --variant=essential --include="$(IFS=,; echo "$*")" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --format=tar "$suite" "$tmp"
mv "$tmp" "$out"
