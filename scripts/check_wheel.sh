#!/usr/bin/env bash
# The Docker builder stage without Docker: build the wheel, install it with the postgres extra
# into a fresh virtual environment, and run the installed command.
set -euo pipefail
cd "$(dirname "$0")/.."
# scripts/test.sh has set up already and says where Poetry is; alone, set up first.
poetry=${MEDGEN_POETRY:-$(bash scripts/bootstrap.sh 2>/dev/null | tail -n 1)}
rm -rf dist
"$poetry" build --format wheel --quiet
wheel=$(ls dist/py_load_medgen-*.whl)
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${wheel}[postgres]"
"$venv/bin/py-load-medgen" --version
"$venv/bin/py-load-medgen" --help >/dev/null
"$venv/bin/py-load-medgen" load --help >/dev/null
echo "wheel $(basename "$wheel") installs and runs"
