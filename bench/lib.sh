# bench/lib.sh - what bench/relay.sh and bench/ab.sh share (sourced, not run)

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
