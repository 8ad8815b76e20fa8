"""Several Python processes sharing one key pool through `keywheel serve`, each its own
session (`X-Keywheel-Session`), so each one is an instance of the pool:

- who got which key: a session's first request is its instance start, where the rotation rule
  applies (adopt the pool's current key unless it has MORE than `rotate_after` requests today,
  else move the pool to the key with the fewest);
- the rotation at the threshold: workers start one after another, so later ones see the
  current key past the threshold and rotate; running workers keep their key;
- the caps holding: of the requests asked for, exactly the daily caps' worth are answered and
  the rest are refused by the gateway with the plain sentence and a 429 (never sent).

Run (offline, see docs/gateway.md): start `keywheel serve` with small settings, e.g.

    KEYWHEEL_ROTATE_AFTER=3 KEYWHEEL_DAILY_CAP=8 keywheel serve     # 3 keys: 24 requests of quota
    python examples/python/concurrent_usage.py [WORKERS] [REQUESTS_EACH]

Each worker is this file run again as `--worker NAME N`; it talks to the gateway with the
official `openai` package only.
"""

import os
import subprocess
import sys
import threading

import openai
from openai import OpenAI

from _common import need_gateway, print_usage, status


def worker(name, n):
    # No SDK retries: a 429 here means "spent", and retrying would only be refused again
    # (the gateway decides those locally; retries would cost no quota either).
    client = OpenAI(max_retries=0, default_headers={"X-Keywheel-Session": name})
    for i in range(1, n + 1):
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="keywheel/chat",
                messages=[{"role": "user", "content": f"{name}: question {i}"}],
            )
            raw.parse()
            print(f"{name} request {i}: answered with key {raw.headers.get('x-keywheel-key-id')}", flush=True)
        except openai.RateLimitError as e:
            msg = e.body.get("message") if isinstance(e.body, dict) else str(e)
            print(f"{name} request {i}: refused (retry after {e.response.headers.get('retry-after')} s): {msg}", flush=True)


def main():
    need_gateway()
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    each = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    before = status()
    threshold = before["rotate_after"]
    caps = sum(k["daily_cap"] - k["today"] for k in before["keys"] if k["available"])
    print(f"{workers} workers x {each} requests = {workers * each} asked; "
          f"{caps} left under the daily caps; rotation threshold {threshold}")

    lines, lock = [], threading.Lock()
    procs = []
    for w in range(1, workers + 1):
        name = f"worker-{w}-{os.getpid()}"
        p = subprocess.Popen([sys.executable, __file__, "--worker", name, str(each)],
                             stdout=subprocess.PIPE, text=True)
        first = p.stdout.readline()  # its instance has started: the next one starts after it
        lines.append(first.rstrip())
        print("  " + first.rstrip(), flush=True)

        def relay(proc=p):
            for line in proc.stdout:
                with lock:
                    lines.append(line.rstrip())
                    print("  " + line.rstrip(), flush=True)

        t = threading.Thread(target=relay)
        t.start()
        procs.append((p, t))
    for p, t in procs:
        p.wait()
        t.join()

    after = status()
    answered = sum(1 for l in lines if ": answered" in l)
    refused = sum(1 for l in lines if ": refused" in l)
    print("who started on which key (rotation happens only at a session's start):")
    for s in after["gateway"]["sessions"]:
        if s["id"].endswith(f"-{os.getpid()}"):
            note = "rotated the pool" if s["rotated"] else "adopted the current key"
            print(f"  {s['id']}: key {s['key_id']} ({note})")
    print(f"answered {answered}, refused {refused} (asked {workers * each})")
    print("today's usage:")
    print_usage(after)
    over = [k for k in after["keys"] if k["today"] > k["daily_cap"]]
    if over or answered > caps:
        sys.exit("a cap was exceeded")
    print(f"caps held: {answered} answered <= {caps} allowed")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        main()
