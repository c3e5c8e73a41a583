#!/usr/bin/env bash
# mxlab-asan-run.sh MXLAB CASE_OR_DIR... - run cases against the asan build of
# mxmta (the mxmta beside MXLAB) and fail on any sanitizer report.
#
# A report of the daemon or of a tool run in a host (sendmail, postqueue, wake)
# does not by itself fail a case: the harness does not judge the daemon's exit
# status, and a leak is only reported when the daemon exits at the end. So every
# MTA process writes its reports to the host's /var/log/sanitizer.PID
# (ASAN_OPTIONS/UBSAN_OPTIONS log_path, passed with --mta-env), the run
# directory is kept, and this script fails when any such file exists, printing
# it. Exit status: mxlab's, or 1 when a report was written.
set -u
mxlab=$1
shift
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/mxlab-asan.XXXXXX") || exit 2
trap 'rm -rf "$run_dir"' EXIT

"$mxlab" run --keep --run-dir "$run_dir" \
  --mta-env ASAN_OPTIONS=detect_leaks=1:log_path=/var/log/sanitizer \
  --mta-env UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=/var/log/sanitizer \
  "$@"
status=$?

found=0
while IFS= read -r -d '' report; do
  found=1
  echo "==== sanitizer report: ${report#"$run_dir"/}"
  cat "$report"
done < <(find "$run_dir" -type f -name 'sanitizer.*' -print0)
if [ "$found" -ne 0 ]; then
  echo "FAIL: sanitizer reports above (mxlab exit status $status)"
  exit 1
fi
exit "$status"
