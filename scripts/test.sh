#!/usr/bin/env bash
# What CI runs, in order: lock and lint checks, the offline checks of the CI/CD files, the
# wheel, the docs, then every test with coverage. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

poetry=$(bash scripts/bootstrap.sh | tail -n 1)
export PATH="$PWD/.venv/bin:$PATH"
export PRE_COMMIT_HOME="$PWD/.ci/.tools/pre-commit"
stage() { printf '\n==> %s\n' "$*"; }

stage "poetry check --lock"
"$poetry" check --lock

stage "pre-commit (ruff, ruff format, mypy --strict, hygiene)"
pre-commit run --all-files --show-diff-on-failure

stage "CI/CD files: zizmor, check-jsonschema, hadolint"
zizmor --offline --min-severity low .github/workflows
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
check-jsonschema --schemafile .ci/schemas/codecov.json codecov.yml
check-jsonschema --builtin-schema custom.github-workflows-require-timeout .github/workflows/*.yml
hadolint Dockerfile

stage "wheel: build, install into a fresh virtual environment, run"
bash scripts/check_wheel.sh

if [ -f mkdocs.yml ]; then
  stage "docs: Chromium for the browser test, npm for Mermaid, mkdocs build --strict"
  bash scripts/browser_deps.sh
  mkdocs build --strict --quiet --site-dir .ci/.tools/site
  # tests/browser opens every page in headless Chromium; a missing browser fails, never skips.
  export MEDGEN_REQUIRE_BROWSER=1
  export MEDGEN_SCREENSHOT_DIR="${MEDGEN_SCREENSHOT_DIR:-$PWD/site-screenshots}"
fi

stage "PostgreSQL"
if [ -z "${MEDGEN_TEST_DSN:-}" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -n 1 || true)
    if [ -n "$version" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
      echo "starting PostgreSQL $version"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
      for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export MEDGEN_TEST_DSN=postgresql://postgres@127.0.0.1:5432/postgres
  fi
fi
echo "MEDGEN_TEST_DSN=${MEDGEN_TEST_DSN:-<unset: tests fall back to testcontainers or a local cluster>}"
# A skipped integration test is a failure here: CI must never pass without the database.
export MEDGEN_REQUIRE_DB=1
if [ -d ../shared/real-data ] || [ -n "${MEDGEN_REAL_DATA:-}" ]; then
  export MEDGEN_REQUIRE_REAL_DATA=1
fi

# Tests run in parallel workers (pytest-xdist; coverage is combined across them). Most of the
# time is spent waiting on PostgreSQL, DuckDB and subprocesses, so more workers than cores pay
# off; MEDGEN_TEST_WORKERS overrides (0: no workers, one process). Slow tests are marked
# `slow` and run here like every other: nothing CI runs is left out.
workers=${MEDGEN_TEST_WORKERS:-4}
stage "pytest (unit and integration, coverage >= 90 %, $workers workers)"
set +e
pytest -p no:cacheprovider -n "$workers" --dist loadgroup --cov --cov-branch --cov-report=term \
  --cov-report=xml:coverage.xml --cov-fail-under=90 --durations=15 tests "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
