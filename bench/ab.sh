#!/usr/bin/env bash
# bench/ab.sh - two mxmta builds relaying side by side, in alternating rounds
#
# usage: bench/ab.sh [--rounds N] [--messages N] [--size KB] [--sessions N] [--keep] BIN_A BIN_B
#
# Answers "is this change faster?" on a machine whose speed drifts by more
# than the change: both daemons run from the start, each idle while the
# other is measured, and the rounds alternate A, B, A, B, ... so that drift
# moves both alike. Each round:
#   smtp-source -s SESSIONS -m N -l SIZE  ->  mxmta (A or B)  ->  smtp-sink
#   msg/s    N / (time from the first connection until the queue is empty)
#   us/msg   user+system CPU of the daemon's threads during that time / N
# Both daemons have the configuration bench/relay.sh gives mxmta (durable
# queue, log file, relayhost = the sink). Prints every round, then the
# medians, and the ratio B/A of the median rates.
# On a shared 2-vCPU virtual machine two medians of 8 rounds of the same
# binary differed by up to 4 % (B/A 0.963 and 1.023): a smaller difference
# is noise.
# smtp-source and smtp-sink come with Debian's postfix package.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage="usage: $0 [--rounds N] [--messages N] [--size KB] [--sessions N] [--keep] BIN_A BIN_B"
rounds=8 messages=3000 size=1 sessions=1 keep=
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    -*) echo "bench: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "$usage" >&2; exit 2; }
for v in "$rounds" "$messages" "$size" "$sessions"; do
  case $v in ''|*[!0-9]*|0) echo "bench: --rounds, --messages, --size and --sessions take positive numbers" >&2; exit 2 ;; esac
done
bin_a=$(realpath "$1") bin_b=$(realpath "$2")
for b in "$bin_a" "$bin_b"; do [ -x "$b" ] || { echo "bench: $b: not an executable" >&2; exit 2; }; done
need_postfix_tools

work=$(mktemp -d /tmp/mxab.XXXXXX)
cleanup() {
  [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null || true
  "$bin_a" -c "$work/a/etc" stop >/dev/null 2>&1 || true
  "$bin_b" -c "$work/b/etc" stop >/dev/null 2>&1 || true
  if [ -n "$keep" ]; then echo "bench: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

start_sink

declare -A port_of
setup() {
  local name=$1 bin=$2 d=$work/$1 port
  port=$(free_port)
  port_of[$name]=$port
  mxmta_bench_config "$d" "$port" "$sink_port"
  "$bin" -c "$d/etc" start >/dev/null
  wait_port "$port" || { echo "bench: $bin did not start (see $d/maillog)" >&2; exit 1; }
}
setup a "$bin_a"
setup b "$bin_b"

# One round for daemon $1: prints "msg/s us/msg".
round() {
  local c0 c1 t0 t1 tck pidfile=$work/$1/spool/pid/master.pid
  read -r c0 tck < <(cpu_of "$pidfile")
  t0=$(date +%s.%N)
  smtp-source -s "$sessions" -m "$messages" -l $((size * 1024)) -f bench@source.test -t sink@sink.test \
    127.0.0.1:${port_of[$1]}
  while [ "$(queue_count "$work/$1")" -gt 0 ]; do sleep 0.01; done
  t1=$(date +%s.%N)
  read -r c1 _ < <(cpu_of "$pidfile")
  awk -v n="$messages" -v a="$t0" -v b="$t1" -v c=$((c1 - c0)) -v tck="$tck" \
    'BEGIN{printf "%.0f %.0f\n", n/(b-a), c*1e6/tck/n}'
}

echo "bench: A = $bin_a, B = $bin_b; $rounds rounds of $messages messages of $size KB, $sessions session(s)" >&2
# A warm-up message through each, so that neither pays for its first connection.
for x in a b; do smtp-source -m 1 -f bench@source.test -t sink@sink.test 127.0.0.1:${port_of[$x]}; done
ra= rb= ca= cb=
for i in $(seq 1 "$rounds"); do
  read -r ra1 ca1 < <(round a)
  read -r rb1 cb1 < <(round b)
  ra="$ra $ra1" rb="$rb $rb1" ca="$ca $ca1" cb="$cb $cb1"
  printf 'round %2d: A %6s msg/s %5s us/msg   B %6s msg/s %5s us/msg\n' "$i" "$ra1" "$ca1" "$rb1" "$cb1"
done
ma=$(echo "$ra" | median) mb=$(echo "$rb" | median)
printf 'median:   A %6s msg/s %5s us/msg   B %6s msg/s %5s us/msg   B/A rate %.3f\n' \
  "$ma" "$(echo "$ca" | median)" "$mb" "$(echo "$cb" | median)" "$(awk -v a="$ma" -v b="$mb" 'BEGIN{print b/a}')"
