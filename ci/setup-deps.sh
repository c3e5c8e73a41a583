#!/usr/bin/env bash
# ci/setup-deps.sh - install every Debian package that building and testing mxlab needs.
#
# Idempotent: packages already present are skipped by apt-get; safe to run twice.
# Run as root (or through sudo). Postfix is installed with "No configuration" so
# that the machine's own mail system is neither configured nor started: the lab
# only ever runs Postfix instances on configuration directories of its own.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E "$0" "$@"; fi
  echo "setup-deps: must run as root (apt-get)" >&2
  exit 2
fi

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make
  # libraries named by the design (Boost.Asio/Beast/Process are header-only;
  # Boost.Process needs Boost.Filesystem), XML, unit tests, fake clock
  libboost1.74-dev libboost-filesystem1.74-dev
  libpugixml-dev libfmt-dev
  libgtest-dev libgmock-dev
  libfaketime faketime
  # DNS for the reference MTA's resolver (see README: why c-ares)
  libc-ares-dev
  # CRC-32 of queue files (see README: why zlib)
  zlib1g-dev
  # namespaces: ip(8), unshare(1), newuidmap/newgidmap for subuid maps
  iproute2 util-linux uidmap
  # dig, as the seed types it ("dig -t mx example.com"), and for the fake DNS tests
  bind9-dnsutils
  # Postfix: a reference to compare against, and smtp-source/smtp-sink for bench/
  postfix
  # used by scripts and tests
  procps psmisc passwd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The package may have started a system Postfix with a stock configuration;
# the lab never uses it and it must not hold port 25 on the host.
if [ -x /usr/sbin/postfix ] && [ -f /etc/postfix/main.cf ] && /usr/sbin/postfix status >/dev/null 2>&1; then
  /usr/sbin/postfix stop >/dev/null 2>&1 || true
fi
echo "setup-deps: done"
