#!/usr/bin/env bash
# Runs every test of berth, as `make test` does: the GoogleTest binary (unit
# and integration tests against the real dockerd and nginx), then the test
# that restarts dockerd, then the systemd tests. Ends with one line
# "N passed, N failed".
#
# usage: scripts/run-tests.sh BUILD_DIR
set -euo pipefail

build=${1:?usage: scripts/run-tests.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
export BERTH_BINARY="$root/$build/berth"
export BERTH_SOURCE_DIR="$root"
log=$(mktemp /tmp/berth-tests-XXXXXX.log)
trap 'rm -f "$log"' EXIT

passed=0
failed=0

# Runs one GoogleTest pass and adds its counts.
run_gtest() {
  local status=0
  "$root/$build/berth_tests" "$@" 2>&1 | tee "$log" || status=$?
  local ok bad
  ok=$(grep -c '^\[       OK \]' "$log" || true)
  bad=$({ grep -E '^\[  FAILED  \] [A-Za-z0-9_]+\.[A-Za-z0-9_]+' "$log" || true; } | sort -u | wc -l)
  passed=$((passed + ok))
  failed=$((failed + bad))
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
    echo "berth_tests exited with status $status" >&2
    failed=$((failed + 1))
  fi
}

# Runs one shell test and counts it as one test.
run_script() {
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $*" >&2
    failed=$((failed + 1))
  fi
}

run_gtest --gtest_filter='-IntegrationEngineRestart.*' ${GTEST_ARGS:-}
# Restarting dockerd stops every container on the machine, so it runs alone.
run_gtest --gtest_filter='IntegrationEngineRestart.*'
for script in "$root"/tests/system/*_test.sh; do
  [ -e "$script" ] && run_script bash "$script"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
