#!/usr/bin/env bash
# Installs what the full test suite needs from Debian packages and caches a
# guest kernel image (vmlinuz + modules) matching each installed
# linux-headers-*-amd64 package, for the QEMU guests the tests boot;
# scripts/setup-qemu10.sh unpacks QEMU 10.0 beside the installed 7.2, then
# scripts/setup-arm64.sh adds what the arm64 guests need.
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
  rabbitmq-server   # a real clustered broker (3.10, MQTT plugin): the cluster test starts its own nodes
  prometheus        # promtool and a real scraper
  gpiod             # libgpiod tools inside the guests
  musl-tools        # static guest programs (the agent)
  g++ make python3  # node-gyp builds the native addon at npm ci
  openssl           # test certificates for the TLS listener
  perl              # the kernel's checkpatch.pl
  systemd           # systemd-analyze checks contrib/vgpio2mqtt.service
  chromium          # headless browser for the web view's tests (puppeteer-core)
  fonts-dejavu-core # a font for chromium's screenshots
  sigrok-cli        # reads back the VCD captures
  gtkwave           # vcd2fst and fst2vcd: GTKWave reads back the VCD captures
  libvirt-clients   # virt-xml-validate checks `qemu-args --format libvirt`
  libxml2-utils     # xmllint, which virt-xml-validate runs
  # arm64 guests (scripts/setup-arm64.sh caches the rest):
  gcc-aarch64-linux-gnu # cross-builds vgpio.ko and the guest programs
  libc6-dev-arm64-cross # static glibc for the agent and the test programs
  qemu-system-arm   # qemu-system-aarch64
  # the Python client, its pytest plugin and labgrid drivers (python/):
  python3-paho-mqtt python3-pytest python3-labgrid python3-mypy
  python3-pip python3-venv # `pip install ./python` into a venv (docs/python.md)
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

# Debian starts RabbitMQ's system service when it installs it; the cluster test runs nodes of its own, and the
# service's node would hold AMQP's port (and 1883, the embedded broker's, once its MQTT plugin is on). Stopped only
# when this script installed it: a RabbitMQ that was here before is somebody's, and left alone.
if [[ " ${missing[*]} " == *" rabbitmq-server "* ]]; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
  else
    service rabbitmq-server stop >/dev/null 2>&1 || true
  fi
fi

# bookworm-backports carries the 6.12 kernel the module is also built (and
# booted) against. Its mirror is whatever this machine already uses for
# bookworm, read from apt's own configuration at run time.
backports_list=/etc/apt/sources.list.d/vgpio-bookworm-backports.sources

# Prints "URI<TAB>Signed-By" of the first configured source for the suite
# "bookworm" (deb822 .sources files, then one-line .list files).
bookworm_source() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Stanzas are separated by blank lines; "#" lines are comments.
    awk -v RS= -F'\n' '{
      uris = ""; suites = ""; key = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^#/) continue
        if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
        if ($i ~ /^Suites:/) { suites = " " $i " " }
        if ($i ~ /^Signed-By:/) { key = $i; sub(/^Signed-By:[ \t]*/, "", key) }
      }
      if (suites ~ /[ \t]bookworm[ \t]/ && uris != "") { split(uris, u, /[ \t]+/); print u[1] "\t" key; exit }
    }' "$f"
  done | head -n 1 | grep . && return 0
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $0 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /=/) { if ($(i + 1) == "bookworm") { print $i "\t"; exit } break } }' |
    head -n 1 | grep .
}

if [ ! -f "$backports_list" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "bookworm-backports is not configured; run this script as root"
    exit 1
  fi
  source_line=$(bookworm_source) || {
    say "no apt source for bookworm found in /etc/apt; cannot add bookworm-backports"
    exit 1
  }
  uri=${source_line%%$'\t'*}
  key=${source_line#*$'\t'}
  say "adding bookworm-backports from $uri"
  {
    echo 'Types: deb'
    echo "URIs: $uri"
    echo 'Suites: bookworm-backports'
    echo 'Components: main'
    [ -z "$key" ] || echo "Signed-By: $key"
  } >"$backports_list"
  apt-get update -qq
fi

# The 6.12 headers from backports (the exact ABI package the backports
# meta-package points at); the loop below then caches the matching image.
if ! compgen -G '/usr/src/linux-headers-6.12.*-amd64' >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing the 6.12 kernel headers from bookworm-backports; run this script as root"
    exit 1
  fi
  hdr612=$(apt-cache depends 'linux-headers-amd64/bookworm-backports' 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-headers-6\.12\..*-amd64$/ { print $2; exit }')
  if [ -z "$hdr612" ]; then
    apt-get update -qq
    hdr612=$(apt-cache depends 'linux-headers-amd64/bookworm-backports' 2>/dev/null |
      awk '$1 == "Depends:" && $2 ~ /^linux-headers-6\.12\..*-amd64$/ { print $2; exit }')
  fi
  [ -n "$hdr612" ] || { say "bookworm-backports has no 6.12 linux-headers-*-amd64"; exit 1; }
  say "installing $hdr612 (bookworm-backports)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports "$hdr612" >/dev/null
fi

# QEMU 10.0 from bookworm-backports beside Debian 12's 7.2, unpacked into the cache.
"$root/scripts/setup-qemu10.sh" "$cache"

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
# arm64 guests: the cross toolchain, arm64 headers, guest kernel and userspace.
"$root/scripts/setup-arm64.sh" "$cache"
say "ready: $(ls "$cache/guest-kernel" | tr '\n' ' ')"
