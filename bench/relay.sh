#!/usr/bin/env bash
# bench/relay.sh - relay throughput and CPU per message, mxmta and Postfix side by side
#
# usage: bench/relay.sh [--mta mxmta,postfix] [--sizes 1,10] [--sessions 1,10,50]
#                       [--messages N] [--repeat N] [--mxmta PATH] [--out FILE] [--keep]
#
# For every MTA, message size (KB) and number of sessions, --repeat times:
#   smtp-source -s SESSIONS -m N -l SIZE  ->  MTA on 127.0.0.1  ->  smtp-sink
# Both MTAs run with their durable queues (fsync before "250 queued as") and
# log to a file; relayhost points at the sink; nothing else runs.
#   msg/s       N / (time from the first connection until the MTA's queue is
#               empty again, i.e. every message was relayed to the sink)
#   CPU ms/msg  user+system CPU of all the MTA's processes during that time,
#               divided by N (for Postfix: every live process plus what the
#               master reaped from exited children)
# As a ceiling, smtp-source also sends straight into smtp-sink (no MTA).
# Both MTAs run side by side, idle while the other is measured, and the runs
# take turns (ceiling, mxmta, Postfix, ceiling, ...), so that a shared machine
# whose speed drifts during the benchmark moves all three alike.
# Each run is printed on stderr as it ends; the result is a Markdown table on
# stdout (and in --out FILE) with the median rate and the median CPU of the
# runs of each configuration, and the ratios mxmta/Postfix ("rate x" should
# be >= 2, "CPU x" <= 0.5). This machine may be shared: use --repeat to get
# past the noise.
# --keep leaves the work directory (configurations, queues, logs) in place.
# Needs root for Postfix (it runs as user postfix); without root only mxmta runs.
# smtp-source and smtp-sink come with Debian's postfix package.
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
mtas=mxmta,postfix
sizes=1,10
sessions=1,10,50
messages=5000
repeat=3
mxmta=$repo/build/bin/mxmta
out=
keep=
usage="usage: $0 [--mta mxmta,postfix] [--sizes 1,10] [--sessions 1,10,50] [--messages N] [--repeat N] [--mxmta PATH] [--out FILE] [--keep]"
while [ $# -gt 0 ]; do
  case $1 in
    --mta) mtas=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --mxmta) mxmta=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case $repeat in ''|*[!0-9]*|0) echo "bench: --repeat needs a positive number" >&2; exit 2 ;; esac
case $messages in ''|*[!0-9]*|0) echo "bench: --messages needs a positive number" >&2; exit 2 ;; esac

need_postfix_tools
if [ "$(id -u)" -ne 0 ] && [[ $mtas == *postfix* ]]; then
  echo "bench: Postfix needs root; measuring mxmta only" >&2
  mtas=mxmta
fi
[[ $mtas != *mxmta* ]] || [ -x "$mxmta" ] || { echo "bench: $mxmta: not found (build it, or give --mxmta)" >&2; exit 2; }

work=$(mktemp -d /tmp/mxbench.XXXXXX)
chmod 755 "$work"   # Postfix daemons run as user postfix
cleanup() {
  [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null || true
  [ -d "$work/postfix/etc" ] && postfix -c "$work/postfix/etc" stop >/dev/null 2>&1 || true
  [ -d "$work/mxmta/etc" ] && "$mxmta" -c "$work/mxmta/etc" stop >/dev/null 2>&1 || true
  if [ -n "$keep" ]; then echo "bench: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

start_sink

setup_mxmta() {
  mxmta_bench_config "$work/mxmta" "$1" "$sink_port"
  "$mxmta" -c "$work/mxmta/etc" start >/dev/null
}

setup_postfix() {
  local d=$work/postfix port=$1
  mkdir -p "$d/etc" "$d/spool" "$d/data"
  awk 'BEGIN{OFS="\t"} /^[a-z0-9]/ && NF>=8 {$5="n"} {print}' /usr/share/postfix/master.cf.dist |
    sed "s/^smtp\tinet/127.0.0.1:$port\tinet/" > "$d/etc/master.cf"
  cat > "$d/etc/main.cf" <<EOF
compatibility_level = 3.7
queue_directory = $d/spool
data_directory = $d/data
myhostname = relay.bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$sink_port
maillog_file = $d/maillog
maillog_file_prefixes = /tmp
alias_maps =
alias_database =
biff = no
EOF
  chown -R postfix:postfix "$d/data"
  postfix -c "$d/etc" start 2>"$d/start.err" || { cat "$d/start.err" >&2; return 1; }
}

declare -A rate cpu direct   # "mta kb sessions" -> median; direct: "kb sessions" -> median
declare -A rates cpus        # the same keys -> the runs so far
declare -A port_of pidfile_of
echo "bench: $messages messages per run, $repeat run(s) per configuration" >&2

# Both MTAs run side by side (each idle while the other is measured), and the
# runs are taken in turns: ceiling, mxmta, Postfix, ceiling, mxmta, ... so
# that a machine that gets slower or faster during the benchmark (a shared
# VM does) moves all three alike instead of biasing the ratio.
for mta in ${mtas//,/ }; do
  port=$(free_port)
  case $mta in
    mxmta) setup_mxmta "$port"; pidfile_of[$mta]="$work/mxmta/spool/pid/master.pid" ;;
    postfix) setup_postfix "$port"; pidfile_of[$mta]="$work/postfix/spool/pid/master.pid" ;;
    *) echo "bench: unknown MTA $mta" >&2; exit 2 ;;
  esac
  port_of[$mta]=$port
  wait_port "$port" || true  # the banner
done

for kb in ${sizes//,/ }; do
  for s in ${sessions//,/ }; do
    for run in $(seq 1 "$repeat"); do
      # The ceiling: smtp-source straight into smtp-sink, no MTA in between
      # (the sink neither queues nor flushes). No MTA can accept faster than
      # this from the same client on the same machine; at one session it is
      # the client's own round trips and connection set-up.
      t0=$(date +%s.%N)
      smtp-source -s "$s" -m "$messages" -l $((kb * 1024)) -f bench@source.test -t sink@sink.test 127.0.0.1:$sink_port
      t1=$(date +%s.%N)
      r=$(awk -v m="$messages" -v t0="$t0" -v t1="$t1" 'BEGIN{printf "%.1f", m/(t1-t0)}')
      printf 'bench: %-8s %3d KB %3d sessions  run %d/%d: %8.0f msg/s\n' no-mta "$kb" "$s" "$run" "$repeat" "$r" >&2
      rates["direct $kb $s"]="${rates["direct $kb $s"]:-} $r"
      for mta in ${mtas//,/ }; do
        pat=${pidfile_of[$mta]}
        read -r c0 tck < <(cpu_of "$pat")
        t0=$(date +%s.%N)
        smtp-source -s "$s" -m "$messages" -l $((kb * 1024)) -f bench@source.test -t sink@sink.test 127.0.0.1:${port_of[$mta]}
        # until everything has left the MTA
        while [ "$(queue_count "$work/$mta")" -gt 0 ]; do sleep 0.01; done
        t1=$(date +%s.%N)
        read -r c1 _ < <(cpu_of "$pat")
        read -r r c < <(awk -v m="$messages" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v hz="$tck" \
          'BEGIN{printf "%.1f %.3f\n", m/(t1-t0), (c/hz)*1000/m}')
        printf 'bench: %-8s %3d KB %3d sessions  run %d/%d: %8.0f msg/s %7.3f ms CPU/msg\n' \
          "$mta" "$kb" "$s" "$run" "$repeat" "$r" "$c" >&2
        rates["$mta $kb $s"]="${rates["$mta $kb $s"]:-} $r"
        cpus["$mta $kb $s"]="${cpus["$mta $kb $s"]:-} $c"
      done
    done
    direct["$kb $s"]=$(echo "${rates["direct $kb $s"]}" | median)
    for mta in ${mtas//,/ }; do
      rate["$mta $kb $s"]=$(echo "${rates["$mta $kb $s"]}" | median)
      cpu["$mta $kb $s"]=$(echo "${cpus["$mta $kb $s"]}" | median)
    done
  done
done
for mta in ${mtas//,/ }; do
  case $mta in
    mxmta) "$mxmta" -c "$work/mxmta/etc" stop >/dev/null 2>&1 || true ;;
    postfix) postfix -c "$work/postfix/etc" stop >/dev/null 2>&1 || true ;;
  esac
done

# The table: medians, and mxmta's rate and CPU as multiples of Postfix's.
table() {
  local have_mx=0 have_pf=0
  [[ ,$mtas, == *,mxmta,* ]] && have_mx=1
  [[ ,$mtas, == *,postfix,* ]] && have_pf=1
  echo "| KB | sessions | no MTA msg/s | mxmta msg/s | Postfix msg/s | rate x | mxmta CPU ms/msg | Postfix CPU ms/msg | CPU x |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for kb in ${sizes//,/ }; do
    for s in ${sessions//,/ }; do
      local mr=- pr=- mc=- pc=- rx=- cx=-
      if [ $have_mx = 1 ]; then mr=${rate["mxmta $kb $s"]}; mc=${cpu["mxmta $kb $s"]}; fi
      if [ $have_pf = 1 ]; then pr=${rate["postfix $kb $s"]}; pc=${cpu["postfix $kb $s"]}; fi
      if [ $have_mx = 1 ] && [ $have_pf = 1 ]; then
        rx=$(awk -v a="$mr" -v b="$pr" 'BEGIN{printf (b > 0 ? "%.2f" : "-"), a/(b > 0 ? b : 1)}')
        cx=$(awk -v a="$mc" -v b="$pc" 'BEGIN{printf (b > 0 ? "%.2f" : "-"), a/(b > 0 ? b : 1)}')
      fi
      [ "$mr" != - ] && mr=$(printf '%.0f' "$mr")
      [ "$pr" != - ] && pr=$(printf '%.0f' "$pr")
      [ "$mc" != - ] && mc=$(printf '%.3f' "$mc")
      [ "$pc" != - ] && pc=$(printf '%.3f' "$pc")
      echo "| $kb | $s | $(printf '%.0f' "${direct["$kb $s"]}") | $mr | $pr | $rx | $mc | $pc | $cx |"
    done
  done
  echo
  echo "$messages messages per run, median of $repeat run(s); no MTA = smtp-source straight into smtp-sink" \
    "(the ceiling for any MTA); rate x = mxmta msg/s / Postfix msg/s, CPU x = mxmta CPU / Postfix CPU per message."
}

table
[ -n "$out" ] && table > "$out"
exit 0
