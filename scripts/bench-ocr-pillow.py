#!/usr/bin/env python3
"""The whole `keywheel ocr photo.jpg --json` process vs a Python script doing the same job with
Pillow (issue 14), printed, asserting nothing.

Both read a 4000×3000 photo JPEG (4:2:0, quality 90, EXIF orientation 6 as phones write it,
made here with Pillow), turn it upright, fit it into 1120 px, encode a JPEG, base64 it into a
data URL and POST one chat request to the same keywheel-mock at 0 ms:

  keywheel   target/release/keywheel ocr photo-N.jpg --json (keys from the environment,
             keychain off, OCR cache off, a warm ledger: one untimed run first fetches the
             catalogue and /key)
  pillow     .tools/venv/bin/python on a script: Image.open, draft("RGB", fit) (libjpeg's
             DCT scaling, 1/2 here), ImageOps.exif_transpose, resize LANCZOS, save JPEG q85,
             base64, POST with urllib (the standard library)

Runs alternate (keywheel, pillow, keywheel, …), each a new process timed from spawn to exit;
every run reads its own copy of the photo (a different COM marker, so a new content hash, so
keywheel sends a new request instead of finding the job done). Prints the medians, the p90s,
the peak RSS of each and the median of the pairwise ratios keywheel / pillow.

Builds nothing: run `cargo build --release -p keywheel-cli -p keywheel-mock` first (`make
bench` does), and scripts/setup-python.sh for Pillow in the venv.

Usage: scripts/bench-ocr-pillow.py [--runs N] [--bin target/release/keywheel]
       [--mock target/release/keywheel-mock] [--python .tools/venv/bin/python]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

FAKE_KEY = "sk-or-v1-" + "7c" * 32  # a fake test key, accepted by keywheel-mock
PILLOW_KEY = "sk-or-v1-" + "8d" * 32  # another, so the two sides share no per-key limit

# Writes RUNS + 1 copies of one photo: smooth gradients and soft blobs plus noise, which
# compresses like a real photo (about 2 MB at q90).
MAKE_PHOTOS = r"""
import sys
from PIL import Image, ImageChops, ImageFilter
out, count = sys.argv[1], int(sys.argv[2])
w, h = 4000, 3000
gx = Image.linear_gradient("L").rotate(90).resize((w, h))
gy = Image.linear_gradient("L").resize((w, h))
blobs = Image.effect_noise((40, 30), 90).resize((w, h), Image.BICUBIC).filter(ImageFilter.GaussianBlur(40))
noise = Image.effect_noise((w, h), 12)
r = ImageChops.add(ImageChops.multiply(gx, blobs), noise, scale=1.4)
g = ImageChops.add(gy, ImageChops.invert(blobs), scale=2.0)
b = ImageChops.add(ImageChops.invert(gx), noise, scale=1.6)
photo = Image.merge("RGB", (r, g, b))
exif = Image.Exif()
exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
for i in range(count):
    photo.save(f"{out}/photo-{i}.jpg", "JPEG", quality=90, subsampling=2, exif=exif,
               comment=f"bench run {i}")
"""

# The Pillow side of the job.
PILLOW_JOB = r"""
import base64, io, json, sys, urllib.request
from PIL import Image, ImageOps
path, url, key, prompt = sys.argv[1:5]
side = 1120
im = Image.open(path)
w, h = im.size
fit = min(side / w, side / h, 1.0)
im.draft("RGB", (max(1, round(w * fit)), max(1, round(h * fit))))
im = ImageOps.exif_transpose(im)
w, h = im.size
fit = min(side / w, side / h, 1.0)
im = im.resize((max(1, round(w * fit)), max(1, round(h * fit))), Image.LANCZOS)
buf = io.BytesIO()
im.save(buf, "JPEG", quality=85)
data_url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
body = {
    "model": "meta-llama/llama-3.2-90b-vision-instruct",
    "messages": [{"role": "user", "content": [
        {"type": "text", "text": prompt},
        {"type": "image_url", "image_url": {"url": data_url}},
    ]}],
}
req = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                             headers={"Authorization": "Bearer " + key,
                                      "Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    answer = json.load(r)
print(json.dumps({"file": path, "text": answer["choices"][0]["message"]["content"]}))
"""

PROMPT = "Transcribe all the text in this image as Markdown."


def run_rss(cmd, env):
    """Run `cmd` to its end: (wall ms from spawn to exit, its own peak RSS from wait4 in MiB,
    exit code)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t) * 1000
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read()
    p.stderr.close()
    if p.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
    return wall, usage.ru_maxrss / 1024, p.returncode


def p90(values):
    s = sorted(values)
    return s[max(0, -(-len(s) * 9 // 10) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15, help="pairs of runs")
    ap.add_argument("--bin", default="target/release/keywheel")
    ap.add_argument("--mock", default="target/release/keywheel-mock")
    ap.add_argument("--python", default=".tools/venv/bin/python")
    a = ap.parse_args()
    a.bin, a.mock, a.python = map(os.path.abspath, (a.bin, a.mock, a.python))
    for path in (a.bin, a.mock):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench-ocr-pillow: {path} is missing; run "
                     "`cargo build --release -p keywheel-cli -p keywheel-mock`")
    if subprocess.run([a.python, "-c", "import PIL"], capture_output=True).returncode != 0:
        sys.exit(f"bench-ocr-pillow: Pillow is not importable by {a.python}; run "
                 "scripts/setup-python.sh")
    pil = subprocess.run([a.python, "-c", "import PIL, PIL.features as f; "
                          "print(PIL.__version__, f.version('libjpeg_turbo'))"],
                         capture_output=True, text=True).stdout.split()
    mock = subprocess.Popen([a.mock, "--addr", "127.0.0.1:0", "--latency-ms", "0",
                             "--daily-limit", "100000", "--minute-limit", "100000"],
                            stdout=subprocess.PIPE, text=True)
    url = mock.stdout.readline().strip().removeprefix("listening on ") + "/api/v1"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([a.python, "-c", MAKE_PHOTOS, tmp, str(a.runs + 1)], check=True)
            job = os.path.join(tmp, "pillow_job.py")
            with open(job, "w") as f:
                f.write(PILLOW_JOB)
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": tmp,
                "KEYWHEEL_DATA_DIR": os.path.join(tmp, "data"),
                "KEYWHEEL_CONFIG": "",
                "KEYWHEEL_KEYCHAIN": "off",
                "KEYWHEEL_CACHE_OCR": "off",
                "KEYWHEEL_DAILY_CAP": "100000",
                "KEYWHEEL_MINUTE_CAP": "100000",
                "OPENROUTER_BASE_URL": url,
                "OPENROUTER_API_KEYS": FAKE_KEY,
            }
            kw = lambda i: [a.bin, "ocr", os.path.join(tmp, f"photo-{i}.jpg"), "--json"]
            py = lambda i: [a.python, job, os.path.join(tmp, f"photo-{i}.jpg"), url,
                            PILLOW_KEY, PROMPT]
            # Untimed: the ledger made, the catalogue and /key fetched; Python's caches warm.
            for cmd in (kw(a.runs), py(a.runs)):
                if run_rss(cmd, env)[2] != 0:
                    sys.exit(f"bench-ocr-pillow: the warm-up run failed: {cmd[:2]}")
            size = os.path.getsize(os.path.join(tmp, "photo-0.jpg"))
            k_ms, p_ms, k_rss, p_rss, ratios = [], [], [], [], []
            for i in range(a.runs):
                kt, kr, kc = run_rss(kw(i), env)
                pt, pr, pc = run_rss(py(i), env)
                if kc != 0 or pc != 0:
                    print(f"run {i}: exit codes keywheel {kc}, pillow {pc}; not counted")
                    continue
                k_ms.append(kt)
                p_ms.append(pt)
                k_rss.append(kr)
                p_rss.append(pr)
                ratios.append(kt / pt)
    finally:
        mock.kill()
        mock.wait()
    if not ratios:
        sys.exit("bench-ocr-pillow: no run succeeded")
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    print(f"whole process, 4000x3000 JPEG ({size / 1e6:.2f} MB, 4:2:0 q90, EXIF 6) → 1120 px "
          f"JPEG data URL → POST to keywheel-mock at 0 ms; {len(ratios)} alternating pairs, "
          f"load average {load}")
    print(f"  keywheel ocr --json   median {statistics.median(k_ms):6.1f} ms  p90 "
          f"{p90(k_ms):6.1f} ms  min {min(k_ms):6.1f} ms  peak RSS {max(k_rss):5.1f} MiB")
    print(f"  python + Pillow {pil[0] if pil else '?'} (libjpeg-turbo {pil[1] if len(pil) > 1 else '?'})"
          f"  median {statistics.median(p_ms):6.1f} ms  p90 {p90(p_ms):6.1f} ms  min "
          f"{min(p_ms):6.1f} ms  peak RSS {max(p_rss):5.1f} MiB")
    print(f"  median of pairwise ratios keywheel / pillow: {statistics.median(ratios):.2f}x "
          f"(target ≤ 0.4x; spread {min(ratios):.2f}–{max(ratios):.2f})")


if __name__ == "__main__":
    main()
