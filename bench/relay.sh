#!/usr/bin/env bash
# bench/relay.sh - relay throughput and CPU per message, mxmta and Postfix side by side
#
# usage: bench/relay.sh [--mta mxmta,postfix] [--sizes 1,10] [--sessions 1,10,50]
#                       [--messages N] [--mxmta PATH] [--out FILE]
#
# For every MTA, message size (KB) and number of sessions:
#   smtp-source -s SESSIONS -m N -l SIZE  ->  MTA on 127.0.0.1  ->  smtp-sink
# Both MTAs run with their durable queues (fsync before "250 queued as") and
# log to a file; relayhost points at the sink; nothing else runs.
#   msg/s       N / (time from the first connection until the MTA's queue is
#               empty again, i.e. every message was relayed to the sink)
#   CPU ms/msg  user+system CPU of all the MTA's processes during that time,
#               divided by N (for Postfix: every live process plus what the
#               master reaped from exited children)
# Needs root for Postfix (it runs as user postfix); without root only mxmta runs.
# smtp-source and smtp-sink come with Debian's postfix package.
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mtas=mxmta,postfix
sizes=1,10
sessions=1,10,50
messages=5000
mxmta=$repo/build/bin/mxmta
out=
while [ $# -gt 0 ]; do
  case $1 in
    --mta) mtas=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --mxmta) mxmta=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--mta mxmta,postfix] [--sizes 1,10] [--sessions 1,10,50] [--messages N] [--mxmta PATH] [--out FILE]" >&2; exit 2 ;;
  esac
done

for t in smtp-source smtp-sink; do
  command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "bench: $t not found (Debian package postfix)" >&2; exit 2; }
done
PATH=$PATH:/usr/sbin
if [ "$(id -u)" -ne 0 ] && [[ $mtas == *postfix* ]]; then
  echo "bench: Postfix needs root; measuring mxmta only" >&2
  mtas=mxmta
fi

work=$(mktemp -d /tmp/mxbench.XXXXXX)
chmod 755 "$work"   # Postfix daemons run as user postfix
cleanup() {
  [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null || true
  [ -d "$work/postfix/etc" ] && postfix -c "$work/postfix/etc" stop >/dev/null 2>&1 || true
  [ -d "$work/mxmta/etc" ] && "$mxmta" -c "$work/mxmta/etc" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  awk 'BEGIN{srand(); print 20000+int(rand()*20000)}'; }

sink_port=$(free_port)
# -c: count; 1000: listen backlog. The sink accepts everything, no delays.
smtp-sink -u "$(id -un)" 127.0.0.1:$sink_port 1000 >/dev/null 2>&1 &
sink_pid=$!

setup_mxmta() {
  local d=$work/mxmta port=$1
  mkdir -p "$d/etc"
  cat > "$d/etc/main.cf" <<EOF
myhostname = relay.bench.test
mydestination =
queue_directory = $d/spool
data_directory = $d/data
maillog_file = $d/maillog
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$sink_port
alias_maps =
alias_database =
EOF
  # the smtpd listener, and the transports a relay needs (as Postfix, a
  # master.cf without them has no way to deliver: "mail transport unavailable")
  cat > "$d/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
EOF
  "$mxmta" -c "$d/etc" start >/dev/null
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

# CPU ticks (user+system) of the MTA's master process (pid file under the
# queue directory), what it reaped from exited children, and its live children.
cpu_of() {
  local pidfile=$1 master tck total=0
  tck=$(getconf CLK_TCK)
  master=$(tr -dc '0-9' < "$pidfile")
  # fields after the ")": 2=ppid ... 12=utime 13=stime 14=cutime 15=cstime
  total=$(sed 's/.*) //' "/proc/$master/stat" | awk '{print $12+$13+$14+$15}')
  for p in /proc/[0-9]*; do
    local st
    st=$(sed 's/.*) //' "$p/stat" 2>/dev/null) || continue
    if [ "$(echo "$st" | awk '{print $2}')" = "$master" ]; then
      total=$(( total + $(echo "$st" | awk '{print $12+$13+$14+$15}') ))
    fi
  done
  echo "$total $tck"
}

queue_count() {
  find "$1/spool/incoming" "$1/spool/active" "$1/spool/deferred" "$1/spool/maildrop" -type f 2>/dev/null | wc -l
}

results=()
printf '%-8s %5s %8s %9s %9s %11s\n' MTA KB sessions messages "msg/s" "CPU ms/msg"
for mta in ${mtas//,/ }; do
  port=$(free_port)
  case $mta in
    mxmta) setup_mxmta "$port"; pat="$work/mxmta/spool/pid/master.pid" ;;
    postfix) setup_postfix "$port"; pat="$work/postfix/spool/pid/master.pid" ;;
    *) echo "bench: unknown MTA $mta" >&2; exit 2 ;;
  esac
  # wait for the banner
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  for kb in ${sizes//,/ }; do
    for s in ${sessions//,/ }; do
      read -r c0 tck < <(cpu_of "$pat")
      t0=$(date +%s.%N)
      smtp-source -s "$s" -m "$messages" -l $((kb * 1024)) -f bench@source.test -t sink@sink.test 127.0.0.1:$port
      # until everything has left the MTA
      while [ "$(queue_count "$work/$mta")" -gt 0 ]; do sleep 0.01; done
      t1=$(date +%s.%N)
      read -r c1 _ < <(cpu_of "$pat")
      line=$(awk -v m="$messages" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v hz="$tck" -v mta="$mta" -v kb="$kb" -v s="$s" \
        'BEGIN{el=t1-t0; printf "%-8s %5d %8d %9d %9.0f %11.3f", mta, kb, s, m, m/el, (c/hz)*1000/m}')
      echo "$line"
      results+=("$line")
    done
  done
  case $mta in
    mxmta) "$mxmta" -c "$work/mxmta/etc" stop >/dev/null 2>&1 || true ;;
    postfix) postfix -c "$work/postfix/etc" stop >/dev/null 2>&1 || true ;;
  esac
done

if [ -n "$out" ]; then
  {
    echo "| MTA | KB | sessions | messages | msg/s | CPU ms/msg |"
    echo "|---|---:|---:|---:|---:|---:|"
    for r in "${results[@]}"; do echo "$r" | awk '{printf "| %s | %s | %s | %s | %s | %s |\n", $1,$2,$3,$4,$5,$6}'; done
  } > "$out"
fi
