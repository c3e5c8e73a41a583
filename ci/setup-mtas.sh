#!/usr/bin/env bash
# ci/setup-mtas.sh - the third-party MTAs the suites run against, side by side.
#
# Debian's postfix, exim4-daemon-light and opensmtpd each conflict with
# mail-transport-agent, so apt installs only one of them. Postfix is installed
# normally (by ci/setup-deps.sh, "No configuration"); Exim and OpenSMTPD are
# downloaded and unpacked, not installed, under /opt/mxlab/mta/{exim,opensmtpd},
# with their library dependencies installed by hand and the system users they
# insist on created. Nothing is configured or started here: the lab renders a
# configuration per host and starts each MTA itself. Idempotent; needs root.
# (Recipe measured in ../shared/reference/feasibility.md section 0.)
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E "$0" "$@"; fi
  echo "setup-mtas: must run as root" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
"$here/setup-deps.sh"

prefix=/opt/mxlab/mta
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends \
  libdb5.3 libgnutls-dane0 libidn12 libnsl2 libpcre2-8-0 libevent-2.1-7 libpam0g libssl3 \
  libgnutls30 libsasl2-2 libspf2-2 libsrs2-0 libasn1-8-heimdal libfl2 libcrypt1 >/dev/null 2>&1 ||
  apt-get install -y -qq --no-install-recommends \
    libdb5.3 libgnutls-dane0 libidn12 libnsl2 libpcre2-8-0 libevent-2.1-7 libpam0g libssl3

if [ ! -x $prefix/exim/usr/sbin/exim4 ] || [ ! -x $prefix/opensmtpd/usr/sbin/smtpd ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq exim4-daemon-light exim4-base exim4-config opensmtpd libopensmtpd0 2>/dev/null ||
     { apt-get update -qq && apt-get download -qq exim4-daemon-light exim4-base exim4-config opensmtpd libopensmtpd0; })
  mkdir -p $prefix/exim $prefix/opensmtpd
  for f in exim4-daemon-light exim4-base exim4-config; do dpkg-deb -x "$tmp"/${f}_*.deb $prefix/exim; done
  for f in opensmtpd libopensmtpd0; do dpkg-deb -x "$tmp"/${f}_*.deb $prefix/opensmtpd; done
  rm -rf "$tmp"
fi
# Exim re-executes itself; a set-uid binary would lose LD_PRELOAD (libfaketime),
# so the lab uses a plain copy.
install -m 0755 $prefix/exim/usr/sbin/exim4 $prefix/exim/usr/sbin/exim4.lab
# OpenSMTPD finds its helpers in /usr/libexec/opensmtpd (compiled in); the lab
# overlays this directory per host.
getent passwd Debian-exim >/dev/null || adduser --system --group --allow-bad-names --no-create-home Debian-exim >/dev/null
getent group opensmtpd >/dev/null || addgroup --system opensmtpd >/dev/null
getent passwd opensmtpd >/dev/null || adduser --system --ingroup opensmtpd --no-create-home opensmtpd >/dev/null
getent group opensmtpq >/dev/null || addgroup --system opensmtpq >/dev/null
getent passwd opensmtpq >/dev/null || adduser --system --ingroup opensmtpq --no-create-home opensmtpq >/dev/null
install -m 2755 -g opensmtpq $prefix/opensmtpd/usr/sbin/smtpctl $prefix/opensmtpd/usr/sbin/smtpctl.lab

echo "setup-mtas: postfix $(postconf -d -h mail_version 2>/dev/null)," \
  "exim $($prefix/exim/usr/sbin/exim4.lab -bV 2>/dev/null | sed -n '/^Exim version/s/^Exim version \([^ ]*\).*/\1/p')," \
  "$($prefix/opensmtpd/usr/sbin/smtpd -h 2>&1 | sed -n 's/^version: //p'), under $prefix"
