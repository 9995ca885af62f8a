#!/usr/bin/env bash
# Runs a test command once on NestJS 11 (the repository's own install) and once on NestJS 12 (test/nest12, installed
# here from its lock file when missing or stale), each with IDEMPOTENCY_TEST_NEST_MAJOR set (test/support/nest-major.mts
# moves every @nestjs/* import of the run onto that major). Both runs happen even when the first fails; the script
# ends with one line per major and fails when either failed, naming it.
#
#   bash scripts/on-each-nest-major.sh npx vitest run
#   NEST_MAJORS=12 bash scripts/on-each-nest-major.sh npx vitest run   # one major only
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NEST12=test/nest12
# The lock file's digest, kept in node_modules: a changed lock file reinstalls, an unchanged one costs nothing.
install_nest12() {
  local stamp="$NEST12/node_modules/.lock-digest" digest
  digest="$(sha256sum "$NEST12/package-lock.json" | cut -d' ' -f1)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$digest" ]] && return 0
  echo "== installing $NEST12 (NestJS 12) from its lock file"
  (cd "$NEST12" && npm ci --no-audit --no-fund --loglevel=error) || return 1
  echo "$digest" >"$stamp"
}

declare -A result=()
failed=()
for major in ${NEST_MAJORS:-11 12}; do
  printf '\n== NestJS %s: %s\n' "$major" "$*"
  if [[ "$major" == 12 ]] && ! install_nest12; then
    result[$major]="FAILED (test/nest12 could not be installed)"
    failed+=("$major")
    continue
  fi
  IDEMPOTENCY_TEST_NEST_MAJOR="$major" "$@"
  rc=$?
  if [[ $rc -eq 0 ]]; then result[$major]="passed"; else result[$major]="FAILED (exit $rc)"; failed+=("$major"); fi
done

echo
for major in ${NEST_MAJORS:-11 12}; do echo "NestJS $major: ${result[$major]}: $*"; done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED on NestJS ${failed[*]}" >&2
  exit 1
fi
