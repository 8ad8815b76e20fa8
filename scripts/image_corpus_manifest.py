"""What Pillow (the reference) reads in an image corpus, as one JSON object per line.

Usage: python image_corpus_manifest.py <images dir> <out.jsonl>

For every file: its path relative to the corpus, the format Pillow found, whether Pillow
decodes it, its upright size (after the EXIF orientation), its frame count, and an 8×8 grey
thumbnail of the upright first frame (64 numbers) so that a test can check that the same
picture comes out right side up. Used by crates/keywheel-vision/tests/corpus.rs.
"""

import json
import os
import sys
import warnings

from PIL import Image, ImageOps

Image.MAX_IMAGE_PIXELS = 100_000_000
warnings.simplefilter("ignore")


def thumb(img):
    img = img.convert("RGBA")
    white = Image.new("RGBA", img.size, (255, 255, 255, 255))
    img = Image.alpha_composite(white, img).convert("L")
    return list(img.resize((8, 8), Image.Resampling.BOX).getdata())


def read(path, rel):
    row = {"file": rel, "format": None, "ok": False}
    try:
        with Image.open(path) as img:
            row["format"] = img.format
            row["frames"] = getattr(img, "n_frames", 1)
            img.load()
            upright = ImageOps.exif_transpose(img)
            row["width"], row["height"] = upright.size
            row["thumb"] = thumb(upright)
            row["ok"] = True
    except Exception as e:  # noqa: BLE001 - any failure means "Pillow cannot read it"
        row["error"] = f"{type(e).__name__}: {e}"[:200]
    return row


def read_isolated(path, rel):
    """Some fuzzer files crash Pillow's C code: read each file in a forked child."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        with os.fdopen(w, "w") as f:
            f.write(json.dumps(read(path, rel)))
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not text:
        return {"file": rel, "format": None, "ok": False, "error": "Pillow crashed"}
    return json.loads(text)


def main():
    root, out = sys.argv[1], sys.argv[2]
    rows = []
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            rows.append(read_isolated(path, os.path.relpath(path, root)))
    rows.sort(key=lambda r: r["file"])
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
