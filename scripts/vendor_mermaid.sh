#!/usr/bin/env bash
# The docs site serves its own copy of Mermaid, so diagrams render offline and on an intranet
# (Material for MkDocs would otherwise fetch it from a CDN in the reader's browser). The npm
# package is fetched once with npm, checked against the pinned integrity, and its dist file is
# kept under .ci/.tools (git-ignored); docs/hooks.py copies it into the site. Prints the path.
set -euo pipefail
cd "$(dirname "$0")/.."

version=11.17.2
integrity=sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg==
dir=.ci/.tools/mermaid/$version
out=$dir/mermaid.min.js

if [ ! -s "$out" ]; then
  command -v npm >/dev/null 2>&1 || {
    echo "error: npm is needed once to fetch Mermaid $version for the docs (apt-get install -y npm)" >&2
    exit 1
  }
  mkdir -p "$dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "mermaid@$version" --silent >/dev/null)
  actual="sha512-$(openssl dgst -sha512 -binary "$tmp/mermaid-$version.tgz" | base64 -w 0)"
  if [ "$actual" != "$integrity" ]; then
    echo "error: mermaid-$version.tgz does not match the pinned integrity" >&2
    exit 1
  fi
  tar -xzf "$tmp/mermaid-$version.tgz" -C "$tmp" package/dist/mermaid.min.js package/LICENSE
  cp "$tmp/package/LICENSE" "$dir/LICENSE"
  mv "$tmp/package/dist/mermaid.min.js" "$out.tmp"
  mv "$out.tmp" "$out"
fi
echo "$PWD/$out"
