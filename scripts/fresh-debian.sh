#!/usr/bin/env bash
# The README's first command on a really fresh Debian 12: a minimal system made with debootstrap
# in a folder, entered with chroot, with only what the README says to install; this clone's
# committed files copied in; then exactly `make install && .venv/bin/clive demo`.
#
#   scripts/fresh-debian.sh [FOLDER]      (as root; FOLDER defaults to /tmp/clive-fresh-debian)
#
# In a chroot, bubblewrap cannot make its namespaces: the demo says so in one line and runs
# unsandboxed, which is what `--sandbox auto` promises.
set -euo pipefail
root=${1:-/tmp/clive-fresh-debian}
here=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x "$root/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    echo "== debootstrap: a minimal Debian 12 in $root"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi

mounted=()
cleanup() {
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" || true; done
}
trap cleanup EXIT
for place in proc dev dev/pts; do
    case $place in
        proc) mount -t proc proc "$root/proc" ;;
        *) mount --bind "/$place" "$root/$place" ;;
    esac
    mounted+=("$root/$place")
done
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

in_debian() {
    chroot "$root" /usr/bin/env -i HOME=/root TERM=xterm-256color LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

echo "== what the README asks for: make, python3-venv, bubblewrap (and git to clone)"
in_debian apt-get update -qq
in_debian env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    make python3-venv bubblewrap git ca-certificates >/dev/null
in_debian python3 --version
# A fact of this network, not of clive: where its egress has a CA of its own, the machine's
# certificates go in too, as they would on any machine here.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    in_debian update-ca-certificates >/dev/null
fi

echo "== this clone's committed files, in /root/clive"
rm -rf "$root/root/clive"
mkdir -p "$root/root/clive"
git -C "$here" archive HEAD | tar -x -C "$root/root/clive"

echo "== make install && .venv/bin/clive demo"
in_debian bash -c 'cd /root/clive && make install && .venv/bin/clive demo'
echo "== the session, read back: .venv/bin/clive sessions"
in_debian bash -c 'cd /root/clive && .venv/bin/clive sessions'
