#!/usr/bin/env bash
# Runs each component's tests in its own pytest session (each service's tests/ is its own
# package, and each session gets its own embedded NATS + PostgreSQL). Extra args go to pytest.
# Exits non-zero if any component fails; prints a combined "N passed, N failed" line last.
set -uo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
components=(libs/contracts libs/kit libs/cli libs/backtest services/signal services/decision
            services/entry_gate services/position services/execution services/paper services/notify
            services/dashboard tests)
passed=0; failed=0; status=0
for c in "${components[@]}"; do
  if [ -z "$(find "$c" -name 'test_*.py' -print -quit 2>/dev/null)" ]; then continue; fi
  echo "=== $c"
  out=$(mktemp)
  $UV run --frozen pytest "$c" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && status=1
  summary=$(grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$out" | tail -1)
  p=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
  f=$(grep -oE '[0-9]+ (failed|error)' <<<"$summary" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
  rm -f "$out"
done
echo "all components: $passed passed, $failed failed"
exit $status
