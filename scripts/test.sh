#!/usr/bin/env bash
# The README's test command (npm test). Makes sure the Debian tools the tests drive for real are
# present (installs them when running as root with apt, else says the exact command), then
# type-checks and runs every test file with Node's own test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-deps.sh

echo "== typecheck (tsc --noEmit)"
node_modules/.bin/tsc --noEmit -p .

mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
mkdir -p test-artifacts
echo "== node --test on $(node --version): ${#files[@]} files"
# A test that hangs fails after 10 minutes instead of holding CI to its limit.
exec node --import tsx --test --test-reporter=spec --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-600000}" "${files[@]}"
