# bench/lib.sh - what bench/relay.sh and bench/ab.sh share (sourced, not run)

# Exits unless smtp-source and smtp-sink (Debian package postfix) are there;
# puts /usr/sbin on PATH for them.
need_postfix_tools() {
  local t
  for t in smtp-source smtp-sink; do
    command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "bench: $t not found (Debian package postfix)" >&2; exit 2; }
  done
  PATH=$PATH:/usr/sbin
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    awk 'BEGIN{srand(); print 20000+int(rand()*20000)}'
}

# Waits up to 10 s until something listens on 127.0.0.1:PORT.
wait_port() {
  local _
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# The median of numbers on standard input (separated by blanks or newlines).
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END{if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# mxmta's benchmark configuration in DIR/etc: a relay on 127.0.0.1:PORT that
# sends everything to the sink on 127.0.0.1:SINK_PORT, with its durable queue
# and a log file under DIR.
mxmta_bench_config() {
  local d=$1 port=$2 sink_port=$3
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
}

# Starts smtp-sink on a free port and sets sink_port and sink_pid. 1000: the
# listen backlog. The sink accepts everything, without delays.
start_sink() {
  sink_port=$(free_port)
  smtp-sink -u "$(id -un)" 127.0.0.1:$sink_port 1000 >/dev/null 2>&1 &
  sink_pid=$!
  wait_port "$sink_port" || { echo "bench: smtp-sink did not start" >&2; exit 1; }
}

# "TICKS HZ": CPU ticks (user+system) of the MTA's master process (pid file
# under the queue directory; for mxmta, every thread of its one process), what
# it reaped from exited children, and its live children.
cpu_of() {
  local pidfile=$1 master tck total=0 p st
  tck=$(getconf CLK_TCK)
  master=$(tr -dc '0-9' < "$pidfile")
  # fields after the ")": 2=ppid ... 12=utime 13=stime 14=cutime 15=cstime
  total=$(sed 's/.*) //' "/proc/$master/stat" | awk '{print $12+$13+$14+$15}')
  for p in /proc/[0-9]*; do
    st=$(sed 's/.*) //' "$p/stat" 2>/dev/null) || continue
    if [ "$(echo "$st" | awk '{print $2}')" = "$master" ]; then
      total=$(( total + $(echo "$st" | awk '{print $12+$13+$14+$15}') ))
    fi
  done
  echo "$total $tck"
}

# Messages still queued under the MTA's work directory DIR (DIR/spool).
queue_count() {
  find "$1/spool/incoming" "$1/spool/active" "$1/spool/deferred" "$1/spool/maildrop" -type f ! -name '.*' 2>/dev/null | wc -l
}
