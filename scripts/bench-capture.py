#!/usr/bin/env python3
"""Capture and PDF figures for `make bench` (issue 13), printed, asserting nothing:

  pdf render   a 20-page scanned PDF (A4 at 300 dpi, grey JPEG pages, made here): each page
               rendered by `pdftoppm` as keywheel renders it (one process a page, longest side
               1120 px); pages per second and the renderer's peak RSS. Then the whole
               `keywheel ocr --json scan.pdf` against keywheel-mock at 0 ms (20 requests, cache
               off): pages per second end to end and the peak RSS of keywheel and its children.
  region       `keywheel ocr --screen --region 0,0,800,H --copy` on a private Xvfb against
               keywheel-mock at 0 ms (cache off): from the start of the command until
               `xclip -o` reads the text on the clipboard (the holder serving it), median and
               spread of RUNS runs (H = 600 + run: new pixels, so each run sends a request). The grab itself is inside that time; the drag in the app
               is a person's, not measured.

Usage: scripts/bench-capture.py [--runs N] [--bin target/release/keywheel]
       [--mock target/release/keywheel-mock]
Needs poppler-utils, ImageMagick, Xvfb and xclip (scripts/setup-system.sh installs them).
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FAKE_KEY = "sk-or-v1-" + "5a" * 32  # a fake test key, accepted by keywheel-mock
REGION_KEY = "sk-or-v1-" + "6b" * 32  # another fake test key


def scanned_pdf(path, pages, tmp):
    """A PDF of `pages` A4 pages, each one full-page 300 dpi grey JPEG with drawn text."""
    jpgs = []
    for n in range(pages):
        jpg = os.path.join(tmp, f"p{n}.jpg")
        draw = []
        for i in range(30):
            draw += ["-draw", f"text 200,{300 + i * 100} 'Page {n + 1} line {i + 1}: scanned text for the benchmark'"]
        subprocess.run(
            ["convert", "-size", "2480x3508", "xc:#f4f1ea", "-font", "DejaVu-Sans",
             "-pointsize", "42", "-fill", "#222", *draw, "-colorspace", "Gray",
             "-quality", "85", jpg],
            check=True,
        )
        with open(jpg, "rb") as f:
            jpgs.append(f.read())
    objs = []  # 1: catalog, 2: pages, then per page: page, image, contents
    kids = " ".join(f"{3 + 3 * i} 0 R" for i in range(pages))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    for i, data in enumerate(jpgs):
        page, img, content = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject "
            f"<< /Im0 {img} 0 R >> >> /Contents {content} 0 R >>".encode()
        )
        objs.append(
            f"<< /Type /XObject /Subtype /Image /Width 2480 /Height 3508 /ColorSpace "
            f"/DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length {len(data)} >>\nstream\n".encode()
            + data + b"\nendstream"
        )
        draw = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
        objs.append(f"<< /Length {len(draw)} >>\nstream\n".encode() + draw + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    with open(path, "wb") as f:
        f.write(out)


def peak_mib(before):
    """The largest RSS of any child waited for since `before` (ru_maxrss, KiB), in MiB."""
    now = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return now / 1024 if now > before else None


def bench_pdf(a, env, tmp):
    pdf = os.path.join(tmp, "scan.pdf")
    scanned_pdf(pdf, 20, tmp)
    # A fresh python child per measurement keeps ru_maxrss its own.
    probe = (
        "import resource,subprocess,sys,time\n"
        "t=time.monotonic()\n"
        "for n in range(1,21):\n"
        "    subprocess.run(['pdftoppm','-f',str(n),'-l',str(n),'-singlefile','-png','-scale-to','1120',"
        "sys.argv[1],sys.argv[2]],check=True)\n"
        "d=time.monotonic()-t\n"
        "print(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, pdf, os.path.join(tmp, "page")],
                         capture_output=True, text=True, check=True).stdout.split()
    secs, kib = float(out[0]), int(out[1])
    print(f"pdf render    20 scanned A4 pages (300 dpi) → 1120 px with pdftoppm: "
          f"{20 / secs:.2f} pages/s ({secs / 20 * 1000:.0f} ms a page), peak RSS {kib / 1024:.0f} MiB")
    probe = (
        "import resource,subprocess,sys,time\n"
        "t=time.monotonic()\n"
        "r=subprocess.run(sys.argv[1:],capture_output=True)\n"
        "d=time.monotonic()-t\n"
        "print(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode, r.stdout.count(b'\\n'))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, a.bin, "ocr", "--json", pdf],
                         capture_output=True, text=True, check=True, env=env).stdout.split()
    secs, kib, rc, lines = float(out[0]), int(out[1]), out[2], out[3]
    print(f"pdf ocr       keywheel ocr --json scan.pdf (20 pages, mock at 0 ms, cache off): "
          f"{20 / secs:.2f} pages/s, {secs:.2f} s, peak RSS {kib / 1024:.0f} MiB "
          f"(exit {rc}, {lines} JSON lines)")


def bench_region(a, env):
    x = subprocess.Popen(["Xvfb", "-displayfd", "1", "-nolisten", "tcp", "-screen", "0",
                          "1920x1080x24"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        display = ":" + x.stdout.readline().strip()
        env = dict(env, DISPLAY=display)
        times = []
        for i in range(a.runs):
            # Something else owns the clipboard first, so that the text read is this run's.
            subprocess.run(["xclip", "-selection", "clipboard", "-i"], input=b"-", env=env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t = time.monotonic()
            # Another size each run: new pixels, so each run is a new job and a request.
            region = f"0,0,800,{600 + i}"
            r = subprocess.run([a.bin, "ocr", "--screen", "--region", region, "--copy"],
                               capture_output=True, env=env)
            if r.returncode != 0:
                print("region: keywheel failed:", r.stderr.decode(errors="replace"))
                return
            text = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=env,
                                  capture_output=True).stdout
            d = time.monotonic() - t
            if text.strip() and text != b"-":
                times.append(d * 1000)
        if not times:
            print("region: the clipboard never held the text")
            return
        times.sort()
        print(f"region        ocr --screen --region 0,0,800,600+i --copy → text on the clipboard "
              f"(mock at 0 ms, {len(times)} runs): median {statistics.median(times):.0f} ms, "
              f"min {times[0]:.0f}, max {times[-1]:.0f}")
    finally:
        x.kill()
        x.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=10, help="region runs (at most 20: the per-minute cap)")
    p.add_argument("--bin", default="target/release/keywheel")
    p.add_argument("--mock", default="target/release/keywheel-mock")
    a = p.parse_args()
    a.bin, a.mock = os.path.abspath(a.bin), os.path.abspath(a.mock)
    for tool in ["pdftoppm", "convert", "Xvfb", "xclip"]:
        if not shutil.which(tool):
            sys.exit(f"bench-capture: `{tool}` is not installed; run `make setup` (scripts/setup-system.sh)")
    mock = subprocess.Popen([a.mock, "--addr", "127.0.0.1:0", "--latency-ms", "0"],
                            stdout=subprocess.PIPE, text=True)
    url = mock.stdout.readline().strip().removeprefix("listening on ")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": tmp,
                "KEYWHEEL_DATA_DIR": os.path.join(tmp, "data"),
                "KEYWHEEL_CONFIG": "",
                "KEYWHEEL_KEYCHAIN": "off",
                "KEYWHEEL_CACHE_OCR": "off",
                "OPENROUTER_BASE_URL": url + "/api/v1",
                "OPENROUTER_API_KEYS": FAKE_KEY,
            }
            bench_pdf(a, env, tmp)
            # A key (so an account) and a ledger of its own: the PDF's 20 requests filled the
            # first key's per-minute cap (20), and a run would wait for it.
            env = dict(env, OPENROUTER_API_KEYS=REGION_KEY,
                       KEYWHEEL_DATA_DIR=os.path.join(tmp, "data-region"))
            bench_region(a, env)
    finally:
        mock.kill()
        mock.wait()


if __name__ == "__main__":
    main()
