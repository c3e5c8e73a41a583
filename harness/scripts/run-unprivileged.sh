#!/usr/bin/env bash
# run-unprivileged.sh MXLAB SUITE_DIR - run a suite as an unprivileged user.
#
# mxlab must work without root: it then runs each topology inside a user
# namespace. Under ctest as root this drops to user nobody (setpriv) and runs
# the suite; as an ordinary user it runs it directly. It exits 77 (skipped, with
# the reason on stderr) when the machine cannot do it: no setpriv, nobody cannot
# reach the build, or unprivileged user namespaces are switched off.
set -u
mxlab=$1
suite=$2
junit=$(mktemp /tmp/mxlab-unprivileged.XXXXXX.xml)
chmod 666 "$junit"
trap 'rm -f "$junit"' EXIT

if [ "$(id -u)" -ne 0 ]; then
  exec "$mxlab" run -j 2 --junit "$junit" "$suite"
fi
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) not found" >&2; exit 77; }
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --reset-env)
if ! "${as_nobody[@]}" test -x "$mxlab" || ! "${as_nobody[@]}" test -r "$suite"; then
  echo "SKIP: user nobody cannot reach $mxlab or $suite (a parent directory is not world-searchable)" >&2
  exit 77
fi
if ! "${as_nobody[@]}" unshare --user --map-root-user --net true 2>/dev/null; then
  echo "SKIP: unprivileged user namespaces are not available on this machine" >&2
  exit 77
fi
cd /tmp || exit 2
"${as_nobody[@]}" env PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp "$mxlab" run -j 2 --junit "$junit" "$suite"
status=$?
# The JUnit file must be there and record the cases.
grep -q '<testsuite' "$junit" || { echo "no JUnit written" >&2; exit 1; }
exit $status
