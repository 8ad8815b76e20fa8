"""Image to text through the pool: images are sent to the configured vision chain (the
`keywheel/vision` alias) as data URLs, and the transcription is printed. The same image asked
for twice is answered from the shared cache the second time (no quota spent), which the
gateway says with `X-Keywheel-Cached: true`.

Run (with `keywheel serve` running; docs/gateway.md shows the offline set-up):

    python examples/python/image_processing.py                # two images made here
    python examples/python/image_processing.py a.png b.jpg    # your own images
"""

import base64
import mimetypes
import sys

from openai import OpenAI

from _common import need_gateway, png, print_usage, status

need_gateway()
client = OpenAI()

if len(sys.argv) > 1:
    images = []
    for path in sys.argv[1:]:
        mime = mimetypes.guess_type(path)[0] or ""
        if not mime.startswith("image/"):
            sys.exit(f"image_processing: {path} is not an image file (PNG, JPEG, WebP, GIF)")
        with open(path, "rb") as f:
            images.append((path, mime, f.read()))
else:
    print("image_processing: no files given; using two images made here", file=sys.stderr)
    images = [("made-here-1.png", "image/png", png(64, 48)), ("made-here-2.png", "image/png", png(48, 64, (250, 240, 200)))]


def read(name, mime, data):
    url = f"data:{mime};base64," + base64.b64encode(data).decode()
    raw = client.chat.completions.with_raw_response.create(
        model="keywheel/vision",
        temperature=0,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Transcribe all text in this image as Markdown."},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    )
    answer = raw.parse()
    cached = raw.headers.get("x-keywheel-cached") == "true"
    who = "from the cache, no quota spent" if cached else (
        f"key {raw.headers.get('x-keywheel-key-id')}, {raw.headers.get('x-keywheel-model')}")
    print(f"## {name} ({who})")
    print(answer.choices[0].message.content.strip())
    print()
    return cached


for name, mime, data in images:
    read(name, mime, data)
print("again, the first image:")
again = read(*images[0])
print("second reading came from the cache:", again)
print("today's usage:")
print_usage(status())
