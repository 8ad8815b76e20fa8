#!/usr/bin/env python3
"""Process start: time from exec to the first byte sent, for `keywheel ask` and `keywheel ocr`.

Runs the release `keywheel` against a release `keywheel-mock` on 127.0.0.1 under
`strace --seccomp-bpf -f -ttt` (only the traced syscalls stop the process), and reads from the
trace when each step of the start happened, in ms after `execve`:

  ledger      the first open of the ledger file (settings read, data dir made)
  migrated    the first `BEGIN IMMEDIATE`-time write after the open is not visible to strace;
              `instance` (the first pwrite to the ledger's WAL) stands for "open + migration
              check + expiry + instance registration done"
  dbus        the first connect to a D-Bus socket (the keychain probe), if any
  connect     the first TCP connect to the mock
  first byte  the first write on that socket (whatever request it is)
  chat POST   the first write that starts `POST …/chat/completions`

Each command runs RUNS times on one data dir: the first run is "cold" (empty ledger, the
catalogue and /key are fetched), the others "warm" (catalogue cached for a day, /key
reconciled within 10 minutes). Medians of the warm runs are printed, and the cold run.

Usage: scripts/bench-start.py [--runs N] [--bin target/release/keywheel]
       [--mock target/release/keywheel-mock]
Run it under scripts/with-keyring.sh to include a real Secret Service on D-Bus; without a
session bus the probe fails fast (no socket), which is what a headless CI box sees.
Prints only; asserts nothing.
"""

import argparse
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import zlib

FAKE_KEY = "sk-or-v1-" + "5a" * 32  # a fake test key, accepted by keywheel-mock


def tiny_png(path, w=64, h=32):
    """A small grey PNG, written without any imaging library."""
    raw = b"".join(b"\x00" + bytes([200]) * w for _ in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)$")


def phases(trace_path, port):
    t0 = None
    marks = {}
    sock_fds = set()
    for line in open(trace_path, errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        pid, t, call, rest = m.group(1), float(m.group(2)), m.group(3), m.group(4)
        if call == "execve" and t0 is None:
            t0 = t
            continue
        if t0 is None:
            continue
        ms = (t - t0) * 1000
        if call == "openat" and "keywheel.sqlite3" in rest and "-wal" not in rest:
            marks.setdefault("ledger", ms)
        elif call == "pwrite64" and "instance" not in marks:
            fd = rest.split(",")[0]
            marks.setdefault("_wal_fd_" + fd, ms)
        elif call == "connect":
            if "sun_path" in rest and "bus" in rest:
                marks.setdefault("dbus", ms)
            if f"htons({port})" in rest:
                marks.setdefault("connect", ms)
                sock_fds.add(rest.split(",")[0])
        elif call in ("write", "writev", "sendto", "sendmsg"):
            fd = rest.split(",")[0]
            if fd in sock_fds:
                marks.setdefault("first byte", ms)
                if "POST" in rest and "chat/completions" in rest:
                    marks.setdefault("chat POST", ms)
    wal = [v for k, v in marks.items() if k.startswith("_wal_fd_")]
    if wal:
        marks["instance"] = min(wal)
    return {k: v for k, v in marks.items() if not k.startswith("_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--bin", default="target/release/keywheel")
    ap.add_argument("--mock", default="target/release/keywheel-mock")
    a = ap.parse_args()
    if not shutil.which("strace"):
        sys.exit("bench-start: strace is needed (apt install strace)")
    mock = subprocess.Popen([a.mock], stdout=subprocess.PIPE, text=True)
    url = mock.stdout.readline().strip().removeprefix("listening on ")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    order = ["ledger", "instance", "dbus", "connect", "first byte", "chat POST", "exit"]
    try:
        with tempfile.TemporaryDirectory() as d:
            png = os.path.join(d, "page.png")
            tiny_png(png)
            for name, argv in (("ask", ["ask", "--json", "hello"]),
                               ("ocr", ["ocr", "--json", png])):
                data = os.path.join(d, "data-" + name)
                env = {
                    "PATH": os.environ.get("PATH", ""),
                    "HOME": d,
                    "KEYWHEEL_DATA_DIR": data,
                    "KEYWHEEL_CONFIG": "",
                    "OPENROUTER_BASE_URL": url + "/api/v1" if not url.endswith("/api/v1") else url,
                    "OPENROUTER_API_KEYS": FAKE_KEY,
                }
                for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
                    if k in os.environ:
                        env[k] = os.environ[k]
                rows = []
                for i in range(a.runs):
                    trace = os.path.join(d, f"{name}-{i}.strace")
                    p = subprocess.run(
                        ["strace", "--seccomp-bpf", "-f", "-ttt", "-s", "48", "-o", trace,
                         "-e", "trace=execve,openat,connect,write,writev,sendto,sendmsg,pwrite64,exit_group",
                         a.bin, *argv],
                        env=env, capture_output=True, text=True)
                    if p.returncode != 0:
                        sys.exit(f"bench-start: {name} run {i} failed ({p.returncode}): {p.stderr}")
                    marks = phases(trace, port)
                    last = [l for l in open(trace) if "exit_group" in l]
                    first = next(l for l in open(trace) if "execve" in l)
                    marks["exit"] = (float(last[-1].split()[1]) - float(first.split()[1])) * 1000
                    rows.append(marks)
                cold, warm = rows[0], rows[1:]
                print(f"keywheel {name}: ms after exec (strace --seccomp-bpf; {len(warm)} warm runs)")
                print(f"  {'step':<12} {'cold':>8} {'warm p50':>9} {'warm min':>9}")
                for k in order:
                    vals = [r[k] for r in warm if k in r]
                    c = f"{cold[k]:8.1f}" if k in cold else f"{'-':>8}"
                    if vals:
                        print(f"  {k:<12} {c} {statistics.median(vals):9.1f} {min(vals):9.1f}")
                    else:
                        print(f"  {k:<12} {c} {'-':>9} {'-':>9}")
    finally:
        mock.kill()


if __name__ == "__main__":
    main()
