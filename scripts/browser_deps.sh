#!/usr/bin/env bash
# What the docs' browser test needs besides Python packages: a headless Chromium and its
# driver (Debian's chromium and chromium-driver), and npm, which fetches the pinned Mermaid
# the site serves (docs/hooks.py). Installs what is missing when it can (as root,
# with apt-get); a machine that already has them (a GitHub runner's Chrome) is left alone.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
if ! have chromium && ! have chromium-browser && ! have google-chrome; then
  missing+=(chromium)
fi
if ! have chromedriver && [ ! -x "${CHROMEWEBDRIVER:-/nonexistent}/chromedriver" ]; then
  missing+=(chromium-driver)
fi
have npm || missing+=(npm)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if ! have apt-get; then
  echo "error: install ${missing[*]} (no apt-get here)" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  have sudo || { echo "error: installing ${missing[*]} needs root" >&2; exit 1; }
  sudo=(sudo)
fi
echo "installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
