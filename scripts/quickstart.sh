#!/usr/bin/env bash
# Quick start: set everything up on a fresh clone, load MedGen into the embedded DuckDB default
# (the tool says where it is), then show what was loaded.
#
#   bash scripts/quickstart.sh                  # the current release, from NCBI over HTTPS
#   bash scripts/quickstart.sh --source DIR     # from a local mirror (or any URL the tool takes)
#   bash scripts/quickstart.sh --sample         # offline: a small synthetic release, loaded
#                                               # into its own .cache/sample-mirror.duckdb
#
# Any other arguments are passed to `py-load-medgen load`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
tool=.venv/bin/py-load-medgen
[ -x "$tool" ] || tool=".venv/Scripts/py-load-medgen.exe"

args=()
db=()
sample=""
remote=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sample)
      sample=".cache/sample-release"
      echo "==> generating a synthetic release in $sample"
      "$tool" generate --scale 0.01 "$sample" >/dev/null
      args+=(--source "$sample")
      remote=0
      ;;
    --source)
      args+=("$1" "$2")
      case "$2" in *://*) ;; *) remote=0 ;; esac
      shift
      ;;
    --db-uri)
      db=(--db-uri "$2")
      shift
      ;;
    --db-uri=*) db=("$1") ;;
    *) args+=("$1") ;;
  esac
  shift
done

# Synthetic rows never go into the user's real default mirror: the sample has its own file.
if [ -n "$sample" ] && [ "${#db[@]}" -eq 0 ]; then
  db=(--db-uri "duckdb:///$PWD/.cache/sample-mirror.duckdb")
  echo "==> the sample is loaded into its own database: $PWD/.cache/sample-mirror.duckdb"
fi

echo "==> loading"
set +e
"$tool" load "${args[@]}" "${db[@]}"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  if [ "$remote" -eq 1 ] && [ "$status" -eq 5 ]; then
    cat >&2 <<'HINT'
==> NCBI could not be reached (offline, or behind a proxy?). To try the tool without a network:
      bash scripts/quickstart.sh --sample          # a small synthetic release, generated here
      bash scripts/quickstart.sh --source DIR      # a directory holding MedGen files
HINT
  fi
  exit "$status"
fi
echo "==> loaded"
"$tool" status "${db[@]}"
