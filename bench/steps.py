#!/usr/bin/env python3
"""bench/steps.py - where one SMTP session's time goes, step by step

usage: bench/steps.py HOST PORT [--messages N] [--kb K]

Sends N messages of K KB, one connection each and one command at a time (as
smtp-source does with one session), and prints the mean time of every step:
connect and greeting, EHLO, MAIL, RCPT, DATA, the message and its dot up to
the reply, QUIT. Point it at smtp-sink and at an MTA that relays to it to see
what the MTA adds to each step (docs/benchmarks.md, "Why one session falls
short").
"""
import argparse
import socket
import sys
import time

STEPS = ["connect and greeting", "EHLO", "MAIL", "RCPT", "DATA", "message and dot", "QUIT"]


def read_reply(s):
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("connection closed by the server")
        buf += d
        if buf.endswith(b"\r\n"):
            last = buf.split(b"\r\n")[-2]
            if len(last) >= 4 and last[3:4] == b" ":
                if not last[:1] in (b"2", b"3"):
                    raise ConnectionError("server said: " + last.decode(errors="replace"))
                return


def main():
    ap = argparse.ArgumentParser(description="time every step of one-session SMTP deliveries")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--kb", type=int, default=1)
    a = ap.parse_args()
    line = b"x" * 76 + b"\r\n"
    body = b"From: bench@source.test\r\nSubject: steps\r\n\r\n" + line * max(1, a.kb * 1024 // len(line))
    cmds = [b"EHLO steps.test\r\n", b"MAIL FROM:<bench@source.test>\r\n", b"RCPT TO:<sink@sink.test>\r\n",
            b"DATA\r\n", body + b".\r\n", b"QUIT\r\n"]
    total = [0.0] * len(STEPS)
    start = time.perf_counter()
    for _ in range(a.messages):
        t = time.perf_counter()
        s = socket.create_connection((a.host, a.port))
        read_reply(s)
        now = time.perf_counter()
        total[0] += now - t
        t = now
        for i, c in enumerate(cmds):
            s.sendall(c)
            read_reply(s)
            now = time.perf_counter()
            total[i + 1] += now - t
            t = now
        s.close()
    elapsed = time.perf_counter() - start
    print("%d messages of %d KB: %.0f msg/s, %.3f ms per message" % (a.messages, a.kb, a.messages / elapsed,
                                                                    elapsed / a.messages * 1000))
    for name, v in zip(STEPS, total):
        print("  %-22s %.3f ms" % (name, v / a.messages * 1000))


if __name__ == "__main__":
    try:
        main()
    except (OSError, ConnectionError) as e:
        print("steps: %s" % e, file=sys.stderr)
        sys.exit(1)
