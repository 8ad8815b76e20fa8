#!/usr/bin/env bash
# Fetches the public image corpus the image-fidelity test reads (crates/keywheel-vision/tests/vision/corpus.rs):
# the test images that Pillow 11.3.0 ships in its source distribution on PyPI (Tests/images, about
# 1,070 real-world and fuzzer files in 40 formats; none made by us), pinned by version and SHA-256,
# never committed. Then asks Pillow itself (the reference, installed from PyPI into a venv) what it
# reads in each file, into manifest.jsonl (scripts/image_corpus_manifest.py).
# Output: target/image-corpus/pillow-11.3.0/{images/,manifest.jsonl}. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

version=11.3.0
sha256=3828ee7586cd0b2091b6209e5ad53e20d0649bbe87164a459d0676e035e8f523
out=target/image-corpus/pillow-$version
if [ -f "$out/manifest.jsonl" ] && [ "$(cat "$out/.sha256" 2>/dev/null)" = "$sha256" ]; then
  echo "fetch-image-corpus: $out is ready"
  exit 0
fi
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "fetch-image-corpus: python3 (with venv) is needed" >&2; exit 1; }
venv=.tools/corpus-venv
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pillow==$version"

dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
echo "fetch-image-corpus: downloading the Pillow $version source distribution (PyPI)"
"$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
  --no-binary :all: -d "$dl" "pillow==$version"
tarball="$dl/pillow-$version.tar.gz"
got=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
  echo "fetch-image-corpus: $tarball has SHA-256 $got, expected $sha256; refusing it" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"
tar xzf "$tarball" -C "$dl" "pillow-$version/Tests/images"
mv "$dl/pillow-$version/Tests/images" "$out/images"
echo "fetch-image-corpus: asking Pillow what it reads (a minute or two)"
"$venv/bin/python" scripts/image_corpus_manifest.py "$out/images" "$out/manifest.jsonl.tmp" 2>/dev/null
mv "$out/manifest.jsonl.tmp" "$out/manifest.jsonl"
echo "$sha256" > "$out/.sha256"
echo "fetch-image-corpus: $(wc -l < "$out/manifest.jsonl") files in $out"
