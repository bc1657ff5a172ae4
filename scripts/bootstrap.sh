#!/usr/bin/env bash
# Install everything the project needs, from nothing: Poetry (into .ci/.tools when none is on
# PATH) and the project's locked environment in .venv. Safe to run again; quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."

POETRY_VERSION=2.5.1
python=""
for candidate in python3.12 python3.11 python3 python; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "error: Python >= 3.11 is required" >&2
  exit 2
fi

poetry=""
if command -v poetry >/dev/null 2>&1 && poetry --version 2>/dev/null | grep -q "version 2\."; then
  poetry=$(command -v poetry)
else
  tools=.ci/.tools/poetry
  if [ ! -x "$tools/bin/poetry" ]; then
    echo "==> installing Poetry $POETRY_VERSION into $tools" >&2
    "$python" -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "poetry==$POETRY_VERSION"
  fi
  poetry="$PWD/$tools/bin/poetry"
fi

export POETRY_VIRTUALENVS_IN_PROJECT=true
export POETRY_NO_INTERACTION=1
if [ ! -x .venv/bin/python ] && [ ! -x .venv/Scripts/python.exe ]; then
  "$poetry" env use "$python" >/dev/null
fi
echo "==> installing the project (poetry install --all-extras --with dev)" >&2
"$poetry" install --all-extras --with dev --no-interaction --quiet
echo "$poetry"
