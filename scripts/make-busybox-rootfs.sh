#!/usr/bin/env bash
# Builds a busybox root filesystem tarball offline, from the static busybox binary on this machine
# (Debian: apt-get install busybox-static). Usage: scripts/make-busybox-rootfs.sh OUT.tar
#   /bin/busybox, a symlink in /bin for every applet, /etc/passwd (root, nobody), /etc/group, /tmp (1777),
#   /root, /home, /var, /usr/bin, ... Entries are owned by 0:0 with fixed times, so the same busybox gives
#   the same bytes (and the same layer diff id) every time. BUSYBOX=/path overrides the binary.
set -euo pipefail

out=${1:?usage: $0 OUT.tar}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "error: $busybox not found or not executable (apt-get install busybox-static)" >&2; exit 1; }
if ! "$busybox" --list >/dev/null 2>&1; then
  echo "error: $busybox does not run or cannot list its applets" >&2; exit 1
fi
if command -v ldd >/dev/null 2>&1 && ldd "$busybox" 2>/dev/null | grep -q '=>'; then
  echo "error: $busybox is dynamically linked; a rootfs needs the static build (busybox-static)" >&2; exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/gantry-busybox-rootfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

install -d -m 0755 "$stage"/{bin,sbin,etc,home,var,dev,proc,sys,usr/bin,usr/sbin,usr/local/bin,var/log,var/spool,run}
install -d -m 1777 "$stage/tmp" "$stage/var/tmp"
install -d -m 0700 "$stage/root"
install -m 0755 "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln -s busybox "$stage/bin/$applet"
done

cat >"$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat >"$stage/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
cat >"$stage/etc/shadow" <<'SHADOW'
root:*::0:::::
nobody:*::0:::::
SHADOW
chmod 0644 "$stage/etc/passwd" "$stage/etc/group"
chmod 0640 "$stage/etc/shadow"

tmp_out="$out.tmp.$$"
tar --create --file="$tmp_out" --directory="$stage" \
  --sort=name --format=gnu --numeric-owner --owner=0 --group=0 --mtime='2000-01-01 00:00:00Z' \
  bin dev etc home proc root run sbin sys tmp usr var
mv -f "$tmp_out" "$out"
echo "$out: busybox rootfs with $("$busybox" --list | wc -l) applets"
