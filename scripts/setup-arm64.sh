#!/usr/bin/env bash
# The arm64 half of scripts/setup.sh (which runs it last, once it has
# installed the cross toolchain and qemu-system-aarch64): fetched from
# Debian's arm64 archive with `apt-get download` and unpacked with `dpkg -x`
# into the cache (no foreign package is installed):
#
#   arm64/guest-kernel/<abi>-arm64/
#                                the arm64 guest kernel (vmlinuz + modules), for
#                                the oldest installed amd64 ABI (Debian 12's 6.1)
#   arm64/headers/linux-headers-<abi>-arm64/
#                                arm64 headers for every installed amd64 ABI
#                                (6.1 and 6.12), to cross-build vgpio.ko
#   arm64/root/                  the guests' userspace: static busybox, the
#                                libgpiod tools and the glibc they link
#
# Idempotent like setup.sh: what is cached stays, apt only runs when needed.
# Usage: scripts/setup-arm64.sh CACHE_DIR   (as root; setup.sh passes its cache)
set -euo pipefail

cache=${1:?usage: setup-arm64.sh CACHE_DIR}

say() { printf 'setup: %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    say "$1; run this script as root"
    exit 1
  fi
}

# Installed by setup.sh, from its package list.
for tool in aarch64-linux-gnu-gcc qemu-system-aarch64; do
  command -v "$tool" >/dev/null || { say "$tool is missing: run scripts/setup.sh"; exit 1; }
done

# apt-get download of :arm64 packages needs the arm64 package lists.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  need_root "dpkg does not know the arm64 architecture"
  say "adding the arm64 architecture to dpkg (package lists only; nothing arm64 is installed)"
  dpkg --add-architecture arm64
  apt-get update -qq
fi

# Unpacks the arm64 packages $2... into $1, fetching them with apt-get download.
unpack() {
  local dest=$1 tmp deb
  shift
  tmp=$(mktemp -d)
  # apt-get download drops privileges to _apt when it can: give it a folder it may write.
  chmod 0777 "$tmp"
  if ! (cd "$tmp" && apt-get download -qq "${@/%/:arm64}" 2>/dev/null); then
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq "${@/%/:arm64}") || {
      rm -rf "$tmp"
      say "cannot download $*:arm64"
      exit 1
    }
  fi
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dest"; done
  rm -rf "$tmp"
}

# The ABIs (e.g. 6.1.0-57) of the installed amd64 headers, oldest first.
abis=()
for hdr in /usr/src/linux-headers-*-amd64; do
  [ -d "$hdr" ] || continue
  abi=${hdr#/usr/src/linux-headers-}
  abis+=("${abi%-amd64}")
done
[ ${#abis[@]} -gt 0 ] || { say "no /usr/src/linux-headers-*-amd64: run scripts/setup.sh first"; exit 1; }
mapfile -t abis < <(printf '%s\n' "${abis[@]}" | sort -V)

# Headers. Their Makefile includes the arch-independent
# /usr/src/linux-headers-<abi>-common, installed with the amd64 headers of the
# same ABI; their scripts and tools are relative links into
# /usr/lib/linux-kbuild-*, which unpacked elsewhere no longer resolve: point
# them at the installed (amd64) kbuild, whose host tools are what a cross
# build runs.
mkdir -p "$cache/arm64/headers"
for abi in "${abis[@]}"; do
  name=linux-headers-$abi-arm64
  dest=$cache/arm64/headers/$name
  [ -f "$dest/Module.symvers" ] && [ -e "$dest/scripts/basic/fixdep" ] && continue
  need_root "missing the arm64 headers $name"
  say "fetching $name:arm64"
  rm -rf "$dest.partial"
  unpack "$dest.partial" "$name"
  tree=$dest.partial/usr/src/$name
  for link in scripts tools; do
    target=$(readlink "$tree/$link")
    kbuild=/usr/lib/${target#../../lib/}
    [ -d "$kbuild" ] || { say "$name wants $kbuild, which is not installed"; exit 1; }
    ln -sfn "$kbuild" "$tree/$link"
  done
  rm -rf "$dest"
  mv "$tree" "$dest"
  rm -rf "$dest.partial"
done

# The guest kernel: the oldest ABI, as the x86 guests' default.
version=${abis[0]}-arm64
mkdir -p "$cache/arm64/guest-kernel"
dest=$cache/arm64/guest-kernel/$version
if ! [ -f "$dest/boot/vmlinuz-$version" ] || ! [ -f "$dest/lib/modules/$version/modules.dep" ]; then
  need_root "missing the arm64 guest kernel $version"
  say "fetching guest kernel linux-image-$version:arm64"
  rm -rf "$dest.partial"
  unpack "$dest.partial" "linux-image-$version"
  depmod -b "$dest.partial" "$version"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
fi

# The guests' userspace. busybox is static; the libgpiod v1.6 tools link
# libgpiod and glibc, which the initramfs builder copies from this root.
root=$cache/arm64/root
if ! [ -x "$root/bin/busybox" ] || ! [ -x "$root/usr/bin/gpiomon" ] || ! [ -e "$root/lib/ld-linux-aarch64.so.1" ]; then
  need_root "missing the arm64 guest userspace"
  say "fetching busybox-static, gpiod, libgpiod2 and libc6 (arm64)"
  rm -rf "$root.partial"
  unpack "$root.partial" busybox-static gpiod libgpiod2 libc6
  rm -rf "$root"
  mv "$root.partial" "$root"
fi

say "arm64 ready: headers $(ls "$cache/arm64/headers" | tr '\n' ' ')guest kernel $version"
