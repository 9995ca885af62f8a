#!/usr/bin/env bash
# Consumer test: the packed library installed by plain npm into a Nest app outside the monorepo, compiled with
# `moduleResolution: node` (the classic CommonJS Nest starter) and with `node16`, and run on the memory, Redis
# and TypeORM (PostgreSQL) stores, and in the transactional mode, through the public entry points only; and the
# store contract suite of `@nest-idempotency/core/testing` run with node:test against the memory store. Then a second
# app, nest12-starter/, shaped as `nest new` creates it for NestJS 12 (an ES module: `"type": "module"`, `nodenext`,
# TypeScript 6, Vitest 4 on Vite 8), installs the same tarball, is type-checked and built with tsc (what `nest build`
# runs), and runs its Vitest tests: the e2e suites drive the memory, Redis (two instances) and TypeORM (PostgreSQL)
# stores and the client over real HTTP, and start the built app with `node dist/main`. Nothing of the monorepo is
# visible to either app: each is copied to a temporary directory first. Needs Redis (REDIS_URL, default
# redis://127.0.0.1:6379) and PostgreSQL (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres; each
# app creates and drops a database of its own).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
INSTALL_TIMEOUT_S="${INSTALL_TIMEOUT_S:-600}"
RUN_TIMEOUT_S="${RUN_TIMEOUT_S:-120}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/idempotency-consumer.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
STEP="setup"
trap 'rc=$?; echo "consumer test: FAILED during step \"$STEP\" (exit $rc)" >&2; exit $rc' ERR
log() { printf '\n== consumer test: %s\n' "$*"; }

STEP="pack library"
log "$STEP"
TARBALL="$(bash "$ROOT/scripts/pack-lib.sh" "$WORK/pack" | tail -1)"
echo "$TARBALL"

STEP="install the app's dependencies and the tarball"
log "$STEP"
mkdir "$WORK/app"
cp -r "$HERE/package.json" "$HERE/package-lock.json" "$HERE"/tsconfig*.json "$HERE/src" "$WORK/app/"
(cd "$WORK/app" && timeout "$INSTALL_TIMEOUT_S" npm ci --no-audit --no-fund --prefer-offline --loglevel=error \
  && timeout "$INSTALL_TIMEOUT_S" npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error "$TARBALL")

for resolution in node10 node16; do
  STEP="compile with tsconfig.$resolution.json"
  log "$STEP"
  (cd "$WORK/app" && npx --no-install tsc -p "tsconfig.$resolution.json")
  STEP="run ($resolution build)"
  log "$STEP"
  (cd "$WORK/app" && timeout --kill-after=5 "$RUN_TIMEOUT_S" node "dist-$resolution/check.js")
  STEP="run the store contract suite with node:test ($resolution build)"
  log "$STEP"
  (cd "$WORK/app" && timeout --kill-after=5 "$RUN_TIMEOUT_S" node "dist-$resolution/store-contract.js")
done

STEP="install the NestJS 12 starter app's dependencies and the tarball"
log "$STEP"
STARTER="$WORK/nest12-starter"
mkdir "$STARTER"
# Named one by one: a node_modules or dist/ left in the source folder by hand is not copied.
(cd "$HERE/nest12-starter" && cp -r package.json package-lock.json tsconfig.json tsconfig.build.json vitest.config.ts \
  vitest.config.e2e.ts src test "$STARTER/")
(cd "$STARTER" && timeout "$INSTALL_TIMEOUT_S" npm ci --no-audit --no-fund --prefer-offline --loglevel=error \
  && timeout "$INSTALL_TIMEOUT_S" npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error "$TARBALL")

STEP="type-check the NestJS 12 starter app (tsc -p tsconfig.json: src, tests and Vitest configs)"
log "$STEP"
(cd "$STARTER" && npx --no-install tsc --noEmit -p tsconfig.json)

STEP="build the NestJS 12 starter app (npm run build: tsc -p tsconfig.build.json)"
log "$STEP"
(cd "$STARTER" && npm run --silent build)

STEP="run the NestJS 12 starter app's unit tests (npm test: Vitest)"
log "$STEP"
(cd "$STARTER" && timeout --kill-after=5 "$RUN_TIMEOUT_S" npm test)

STEP="run the NestJS 12 starter app's e2e tests (npm run test:e2e: Vitest)"
log "$STEP"
(cd "$STARTER" && timeout --kill-after=5 "$RUN_TIMEOUT_S" npm run test:e2e)
echo "consumer test: passed with both module resolutions and in the NestJS 12 starter app"
