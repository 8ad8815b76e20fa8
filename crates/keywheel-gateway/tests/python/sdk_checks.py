"""The official `openai` Python SDK against `keywheel serve` (run by tests/gateway/sdk.rs).

Reads OPENAI_BASE_URL and OPENAI_API_KEY like any unmodified script. The gateway in front of
keywheel-mock has exactly 4 requests of quota (2 keys x a daily cap of 2): a 400, then plain,
streaming, an image as a data URL and one more plain answer spend them, then a 429 with
Retry-After; retrying it (the SDK's way or by hand) costs no quota.
Prints one `ok <check>` line per check; any failure raises (exit 1).
"""

import base64
import json
import os
import struct
import urllib.request
import zlib

import openai
from openai import OpenAI

client = OpenAI(max_retries=2)


def ok(name, detail=""):
    print(f"ok {name} {detail}".rstrip(), flush=True)


def tiny_png():
    """A 4x4 white PNG, made here (no image library needed)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\xff\xff" * 4 for _ in range(4))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def status():
    req = urllib.request.Request(
        os.environ["OPENAI_BASE_URL"].rstrip("/") + "/keywheel/status",
        headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


# 400: bad input is refused before anything is reserved.
try:
    client.chat.completions.create(
        model="keywheel/chat", messages=[{"role": "tool", "content": "x", "tool_call_id": "1"}]
    )
    raise SystemExit("a tool message was accepted")
except openai.BadRequestError as e:
    assert e.status_code == 400, e.status_code
    assert "role `tool`" in str(e), str(e)
    ok("bad_request_400")

# Plain.
raw = client.chat.completions.with_raw_response.create(
    model="keywheel/chat", messages=[{"role": "user", "content": "What is 2+2?"}]
)
answer = raw.parse()
assert answer.choices[0].message.content.startswith("You asked:"), answer
assert raw.headers.get("x-keywheel-key-id"), dict(raw.headers)
assert raw.headers.get("x-keywheel-model"), dict(raw.headers)
assert int(raw.headers["x-keywheel-overhead-us"]) >= 0
assert answer.usage.total_tokens > 0
reasoning = getattr(answer.choices[0].message, "reasoning", None)
assert reasoning, "R1 reasoning passes through on the message"
ok("plain", raw.headers["x-keywheel-key-id"])

# Streaming: content and reasoning deltas as they come, usage with cost on the last chunk.
content, thought, usage, chunks = "", "", None, 0
stream = client.chat.completions.create(
    model="keywheel/chat",
    stream=True,
    stream_options={"include_usage": True},
    messages=[{"role": "user", "content": "Stream a short answer"}],
)
for chunk in stream:
    chunks += 1
    if chunk.usage is not None:
        usage = chunk.usage
    if chunk.choices:
        d = chunk.choices[0].delta
        content += d.content or ""
        thought += getattr(d, "reasoning", None) or ""
assert content.startswith("You asked:"), content
assert thought, "reasoning deltas arrive as delta.reasoning"
assert usage is not None and usage.total_tokens > 0, usage
assert "cost" in (usage.model_extra or {}), usage
assert chunks > 3, chunks
ok("streaming", f"{chunks} chunks")

# An image as a data URL, to the vision alias.
url = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
raw = client.chat.completions.with_raw_response.create(
    model="keywheel/vision",
    messages=[
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Transcribe all text in this image."},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ],
)
vision = raw.parse()
assert vision.choices[0].message.content, vision
assert raw.headers.get("x-keywheel-model"), raw.headers
ok("image_data_url", raw.headers["x-keywheel-model"])

# The last request of quota.
client.chat.completions.create(model="keywheel/chat", messages=[{"role": "user", "content": "last"}])

before = status()["gateway"]["refused_quota"]
try:
    client.chat.completions.create(model="keywheel/chat", messages=[{"role": "user", "content": "one too many"}])
    raise SystemExit("a request beyond the caps was answered")
except openai.RateLimitError as e:
    assert e.status_code == 429
    retry_after = int(e.response.headers["retry-after"])
    assert retry_after >= 1, retry_after
    assert "spent for today" in str(e), str(e)
    # The SDK decides itself whether to retry (it skips a Retry-After past two minutes);
    # however often it asks, each 429 is decided by the gateway before any reservation.
    attempts = status()["gateway"]["refused_quota"] - before
    assert attempts >= 1, attempts
    ok("rate_limit_429", f"retry-after={retry_after} sdk_attempts={attempts}")

# Retrying by hand, as an SDK with another policy would: still refused, still free.
again = client.with_options(max_retries=0)
for _ in range(3):
    try:
        again.chat.completions.create(model="keywheel/chat", messages=[{"role": "user", "content": "retry"}])
        raise SystemExit("a retry beyond the caps was answered")
    except openai.RateLimitError:
        pass
ok("retries_refused_locally")
