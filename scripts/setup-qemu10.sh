#!/usr/bin/env bash
# QEMU 10.0 beside Debian 12's own 7.2 (which stays /usr/bin's, installed by
# scripts/setup.sh, which runs this once bookworm-backports is configured):
# bookworm-backports' qemu-system-x86 (the binary) and qemu-system-data (its
# option ROMs and keymaps) are fetched with `apt-get download` and unpacked
# with `dpkg -x` into CACHE_DIR/qemu-10 (nothing is installed). The shared
# libraries it links are all Debian 12's; the BIOS and iPXE ROMs come from
# the installed seabios and ipxe-qemu. testkit/qemu-builds.ts runs it.
#
# Idempotent like setup.sh: a cached QEMU 10.0 that runs is left alone.
# Usage: scripts/setup-qemu10.sh CACHE_DIR   (as root; setup.sh passes its cache)
set -euo pipefail

cache=${1:?usage: setup-qemu10.sh CACHE_DIR}
qemu10=$cache/qemu-10

say() { printf 'setup: %s\n' "$*" >&2; }

# The first line of `--version` of the QEMU unpacked in $1, or nothing.
version_of() {
  "$1/usr/bin/qemu-system-x86_64" --version 2>/dev/null | head -n 1 || true
}

if [[ $(version_of "$qemu10") != 'QEMU emulator version 10.0.'* ]]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing QEMU 10.0 in $qemu10; run this script as root"
    exit 1
  fi
  say "fetching qemu-system-x86 and qemu-system-data 10.0 (bookworm-backports) into $qemu10"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp" "$qemu10.partial"' EXIT
  # apt-get download drops privileges to _apt when it can: give it a folder it may write.
  chmod 0777 "$tmp"
  debs=(qemu-system-x86/bookworm-backports qemu-system-data/bookworm-backports)
  if ! (cd "$tmp" && apt-get download -qq "${debs[@]}" 2>/dev/null); then
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq "${debs[@]}") || { say "cannot download ${debs[*]}"; exit 1; }
  fi
  rm -rf "$qemu10.partial"
  # dpkg -x makes its target folder but not the folders above it (a fresh checkout has no cache yet).
  mkdir -p "$cache"
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$qemu10.partial"; done
  missing=$(ldd "$qemu10.partial/usr/bin/qemu-system-x86_64" | awk '/not found/ { print $1 }' | tr '\n' ' ')
  [ -z "$missing" ] || { say "QEMU 10.0 links libraries this system lacks: $missing"; exit 1; }
  version=$(version_of "$qemu10.partial")
  [[ $version == 'QEMU emulator version 10.0.'* ]] || { say "bookworm-backports has '$version', not QEMU 10.0"; exit 1; }
  rm -rf "$qemu10"
  mv "$qemu10.partial" "$qemu10"
fi

say "qemu 10.0 ready: $(version_of "$qemu10")"
