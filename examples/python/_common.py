"""Small helpers shared by the examples: the gateway's status endpoint and a tiny PNG maker.

The examples need nothing but the official `openai` package (requirements.txt) and the two
standard variables every OpenAI-compatible tool reads:

    export OPENAI_BASE_URL=http://127.0.0.1:8377/v1 OPENAI_API_KEY=$(keywheel serve --token)
"""

import json
import os
import struct
import sys
import urllib.request
import zlib


def need_gateway():
    """Exits with a sentence when the two variables are not set."""
    if not os.environ.get("OPENAI_BASE_URL") or not os.environ.get("OPENAI_API_KEY"):
        sys.exit(
            "set OPENAI_BASE_URL and OPENAI_API_KEY first: start `keywheel serve`, then\n"
            "  export OPENAI_BASE_URL=http://127.0.0.1:8377/v1 OPENAI_API_KEY=$(keywheel serve --token)\n"
            "(docs/gateway.md shows how to run everything offline against keywheel-mock)"
        )


def status():
    """`GET /v1/keywheel/status`: today's counts and caps, live instances and sessions."""
    req = urllib.request.Request(
        os.environ["OPENAI_BASE_URL"].rstrip("/") + "/keywheel/status",
        headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def print_usage(st, out=sys.stdout):
    """One line per key: today's count against its daily cap."""
    for k in st["keys"]:
        print(f"  key {k['id']} ({k['masked']}): {k['today']}/{k['daily_cap']} today", file=out)


def png(width, height, rgb=(255, 255, 255), dark_box=True):
    """A small PNG made here, so the example needs no image library."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            inside = dark_box and width // 4 <= x < 3 * width // 4 and height // 3 <= y < 2 * height // 3
            row += bytes((20, 20, 20) if inside else rgb)
        rows.append(bytes(row))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
