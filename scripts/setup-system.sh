#!/usr/bin/env bash
# Installs the Debian packages Keywheel needs to build, run and test (when run as root).
# Safe to run again: apt skips what is already installed.
set -euo pipefail
PKGS=(
  build-essential pkg-config file curl cmake nasm
  libssl-dev libdbus-1-dev libsecret-1-dev
  dbus dbus-x11 gnome-keyring libsecret-tools
  tesseract-ocr tesseract-ocr-eng imagemagick fonts-dejavu-core
  libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev
  libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  xvfb xauth webkit2gtk-driver x11-utils poppler-utils qpdf xclip
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: system packages already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing Debian packages: ${missing[*]}" >&2
  echo "setup: run as root, or install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "setup: installing ${#missing[@]} Debian packages (${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: system packages installed"
