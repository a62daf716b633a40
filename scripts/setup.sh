#!/usr/bin/env bash
# Installs what the full test suite needs from Debian packages and caches a
# guest kernel image (vmlinuz + modules) matching each installed
# linux-headers-*-amd64 package, for the QEMU guests the tests boot.
#
# Idempotent: packages already installed and kernels already cached are
# left alone, and `apt-get update` only runs when something must be installed.
# Usage: scripts/setup.sh            (as root)
#        VGPIO_CACHE=/path scripts/setup.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${VGPIO_CACHE:-$root/.cache}

packages=(
  qemu-system-x86   # the guests (TCG)
  linux-headers-amd64 # builds vgpio.ko against Debian 12's kernel
  busybox-static    # the guests' userspace
  cpio gzip kmod    # initramfs and module dependencies
  mosquitto mosquitto-clients # external broker and real MQTT clients
  prometheus        # promtool and a real scraper
  gpiod             # libgpiod tools inside the guests
  musl-tools        # static guest programs
)

say() { printf 'setup: %s\n' "$*" >&2; }

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]}"
    say "run this script as root, or: sudo apt-get install --no-install-recommends ${missing[*]}"
    exit 1
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# One guest kernel per installed headers flavour (e.g. 6.1.0-56-amd64).
mkdir -p "$cache/guest-kernel"
found=0
for hdr in /usr/src/linux-headers-*-amd64; do
  [ -d "$hdr" ] || continue
  version=${hdr#/usr/src/linux-headers-}
  found=1
  dest=$cache/guest-kernel/$version
  if [ -f "$dest/boot/vmlinuz-$version" ] && [ -f "$dest/lib/modules/$version/modules.dep" ]; then
    continue
  fi
  say "fetching guest kernel linux-image-$version"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download drops privileges to _apt when it can: give it a folder it may write.
  chmod 0777 "$tmp"
  if ! (cd "$tmp" && apt-get download -qq "linux-image-$version" 2>/dev/null); then
    (cd "$tmp" && apt-get download -qq "linux-image-$version-unsigned") || {
      say "cannot download linux-image-$version (is apt's package list up to date? try: apt-get update)"
      exit 1
    }
  fi
  rm -rf "$dest.partial"
  dpkg -x "$tmp"/linux-image-*.deb "$dest.partial"
  # The package's postinst would run depmod; dpkg -x runs no scripts.
  depmod -b "$dest.partial" "$version"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
  rm -rf "$tmp"
  trap - EXIT
done

if [ "$found" -eq 0 ]; then
  say "no /usr/src/linux-headers-*-amd64 found; install linux-headers-amd64"
  exit 1
fi
say "ready: $(ls "$cache/guest-kernel" | tr '\n' ' ')"
