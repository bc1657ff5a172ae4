#!/usr/bin/env bash
# The tests and every check CI makes: lock and lint checks, the offline checks of the CI/CD
# files, the wheel, the docs (built strictly by the tests), the unit and integration tests with
# coverage.
#
#   bash scripts/test.sh          # everything but the tests marked `slow` (a few minutes)
#   bash scripts/test.sh --all    # every test, the slow ones too: what .ci/run and CI run
#
# The tests marked `slow` are the crash tests (real loads killed at each point, on both
# backends), the docs in headless Chromium, Spark reading the lake, every password character
# on every command, the quick start script and the genuine NCBI builds as deltas. Other
# arguments go to pytest (a `-m` of yours replaces the default `-m "not slow"`).
#
# The checks that are not pytest run side by side with each other and with the tests (they
# read the checkout and write only their own caches); each one's output is printed whole when
# the tests are done, with its exit status, and any failure fails the command.
set -euo pipefail
cd "$(dirname "$0")/.."

all=0
args=()
for arg in "$@"; do
  if [ "$arg" = "--all" ]; then all=1; else args+=("$arg"); fi
done
selection=(-m "not slow")
what="every test but those marked slow; --all runs them too"
if [ "$all" -eq 1 ]; then
  selection=()
  what="every test"
fi

poetry=$(bash scripts/bootstrap.sh | tail -n 1)
export PATH="$PWD/.venv/bin:$PATH"
export PRE_COMMIT_HOME="$PWD/.ci/.tools/pre-commit"
export MEDGEN_POETRY="$poetry" # scripts/check_wheel.sh: set up already
stage() { printf '\n==> %s\n' "$*"; }

lint() {
  "$poetry" check --lock
  pre-commit run --all-files --show-diff-on-failure
}

cicd_files() {
  zizmor --offline --min-severity low .github/workflows
  check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
  check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
  check-jsonschema --schemafile .ci/schemas/codecov.json codecov.yml
  check-jsonschema --builtin-schema custom.github-workflows-require-timeout .github/workflows/*.yml
  hadolint Dockerfile
}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
names=()
pids=()
# background NAME COMMAND...: runs in a subshell with errexit, so its first failing command
# ends it with that command's status; how long it took is kept beside its output.
background() {
  local name=$1 i=${#names[@]}
  shift
  stage "$name (started; its output follows the tests)"
  (
    start=$SECONDS
    # Not `if (...)`: errexit does not work inside the condition of an if.
    ("$@") >"$logs/$i.log" 2>&1 &
    set +e
    wait "$!"
    code=$?
    echo "$((SECONDS - start))" >"$logs/$i.seconds"
    exit "$code"
  ) &
  names+=("$name")
  pids+=("$!")
}

background "poetry check --lock, pre-commit (ruff, ruff format, mypy --strict, hygiene)" lint
background "CI/CD files: zizmor, check-jsonschema, hadolint" cicd_files
background "wheel: build, install into a fresh virtual environment, run" bash scripts/check_wheel.sh

if [ -f mkdocs.yml ]; then
  stage "docs: Chromium for the browser test, npm for Mermaid"
  bash scripts/browser_deps.sh
  # tests/browser opens every page in headless Chromium; a missing browser fails, never skips.
  # The site is built once with mkdocs build --strict by the tests (tests/unit/test_docs.py).
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

# Tests run in parallel workers (pytest-xdist; coverage is combined across them). Much of the
# time is spent waiting on PostgreSQL, DuckDB and subprocesses, so more workers than cores pay
# off; MEDGEN_TEST_WORKERS overrides (0: no workers, one process). The longest tests start
# first (tests/conftest.py), and setups that take seconds are built once for all workers.
workers=${MEDGEN_TEST_WORKERS:-4}
stage "pytest ($what; coverage >= 90 %; $workers workers)"
tests_started=$SECONDS
set +e
pytest -p no:cacheprovider -n "$workers" --dist loadgroup --cov --cov-branch --cov-report=term \
  --cov-report=xml:coverage.xml --cov-fail-under=90 --durations=15 "${selection[@]}" tests \
  ${args[@]+"${args[@]}"}
status=$?
set -e
echo "pytest: exit status $status, $((SECONDS - tests_started)) s"
failed=()
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  status=1
fi
[ "$status" -eq 0 ] || failed+=("pytest (exit status $status)")

for i in "${!names[@]}"; do
  set +e
  wait "${pids[$i]}"
  code=$?
  set -e
  stage "${names[$i]}: exit status $code, $(cat "$logs/$i.seconds" 2>/dev/null || echo '?') s"
  cat "$logs/$i.log"
  [ "$code" -eq 0 ] || failed+=("${names[$i]} (exit status $code)")
done

if [ "${#failed[@]}" -gt 0 ]; then
  printf '\nFAILED after %s s:\n' "$SECONDS" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nevery check passed in %s s\n' "$SECONDS"
