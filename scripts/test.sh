#!/usr/bin/env bash
# `npm test`: starts the local servers the suites need when they are installed but stopped (scripts/services.sh),
# then runs Vitest (every unit and e2e suite) on NestJS 11 and again on NestJS 12 (scripts/on-each-nest-major.sh;
# a failure names the major) and the consumer test (the packed library in a CommonJS Nest 11 app and in NestJS 12's
# ES-module starter), and ends, pass or fail, with one line naming every suite that was skipped and why, so that a
# green run on a machine without RabbitMQ (say) does not pass for a full one.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECORDS="$(mktemp -d "${TMPDIR:-/tmp}/npm-test.XXXXXX")"
# The suites that skip write themselves here (test/support/skipped-suites.ts).
export IDEMPOTENCY_SKIPPED_SUITES_FILE="$RECORDS/skipped.jsonl"
: >"$IDEMPOTENCY_SKIPPED_SUITES_FILE"

finish() {
  local rc=$?
  echo
  node -r ts-node/register/transpile-only test/support/print-skipped-suites.ts "$IDEMPOTENCY_SKIPPED_SUITES_FILE"
  rm -rf "$RECORDS"
  exit "$rc"
}
trap finish EXIT

set -e
bash scripts/services.sh
bash scripts/on-each-nest-major.sh npx vitest run
npm run test:consumer
