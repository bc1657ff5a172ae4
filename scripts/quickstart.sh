#!/usr/bin/env bash
# Quick start: set everything up on a fresh clone, load MedGen into the embedded DuckDB default
# (the tool says where it is), then show what was loaded.
#
#   bash scripts/quickstart.sh                  # the current release, from NCBI over HTTPS
#   bash scripts/quickstart.sh --source DIR     # from a local mirror (or any URL the tool takes)
#   bash scripts/quickstart.sh --sample         # offline: generate a small synthetic release
#
# Any other arguments are passed to `py-load-medgen load`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
tool=.venv/bin/py-load-medgen
[ -x "$tool" ] || tool=".venv/Scripts/py-load-medgen.exe"

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sample)
      sample=".cache/sample-release"
      echo "==> generating a synthetic release in $sample"
      "$tool" generate --scale 0.01 "$sample" >/dev/null
      args+=(--source "$sample")
      ;;
    *) args+=("$1") ;;
  esac
  shift
done

echo "==> loading"
"$tool" load "${args[@]}"
echo "==> loaded"
"$tool" status
