#!/usr/bin/env bash
# Smoke test: the built, packed library on NestJS 12, the major we do not develop on.
#
# NestJS 12 is ESM-only. Jest 30 on Node 20 cannot require() it, but plain Node >= 20.19 can
# (require(esm) is on by default), so this runs smoke.cjs with plain `node`, not Jest.
#
# Steps: build and pack libs/idempotency with `npm run pack:lib`'s script into a temp dir ->
# install NestJS 12 (package.json here, exact pins) plus that tarball into test/smoke-nest12/node_modules
# -> run smoke.cjs (HTTP), then smoke-microservices.cjs (RabbitMQ at TEST_RABBITMQ_URL). Exits non-zero on any
# failure. Run from anywhere: `bash test/smoke-nest12/run.sh`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SMOKE_TIMEOUT_S="${SMOKE_TIMEOUT_S:-120}"
INSTALL_TIMEOUT_S="${INSTALL_TIMEOUT_S:-600}"

STEP="setup"
PACK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/smoke-nest12.XXXXXX")"
cleanup() { rm -rf "$PACK_DIR"; }
trap cleanup EXIT
trap 'rc=$?; echo "smoke nest12: FAILED during step \"$STEP\" (exit $rc)" >&2; exit $rc' ERR

log() { printf '\n== smoke nest12: %s\n' "$*"; }

STEP="check node"
log "$STEP"
node -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  const ok = process.features.require_module === true || maj > 22 || (maj === 22 && min >= 12) || (maj === 20 && min >= 19);
  console.log(`node ${process.versions.node}, require(esm): ${process.features.require_module}`);
  if (!ok) { console.error("need Node >= 20.19 (or >= 22.12) with require(esm) enabled"); process.exit(1); }
'

STEP="build and pack library"
log "$STEP"
# The same build and tarball a user gets from `npm run pack:lib`.
TARBALL="$(bash "$ROOT/scripts/pack-lib.sh" "$PACK_DIR" | tail -1)"
TARBALL_NAME="$(basename "$TARBALL")"
CONTENTS="$(tar -tzf "$TARBALL")"
for f in package/package.json package/LICENSE package/dist/index.js package/dist/index.d.ts; do
  grep -qx "$f" <<<"$CONTENTS" || { echo "tarball lacks $f" >&2; false; }
done
if grep -q '^package/src/' <<<"$CONTENTS"; then echo "tarball ships src/" >&2; false; fi
echo "packed $TARBALL_NAME ($(grep -c . <<<"$CONTENTS") files)"

STEP="install NestJS 12 + tarball"
log "$STEP"
# Drop a previous run's copy so the fresh tarball always lands (same name and version every time).
rm -rf "$HERE/node_modules/@nest-idempotency"
# --no-save: package.json (NestJS 12 pins) stays as committed; the tarball's path is a temp dir.
# The library's own dependency (safe-stable-stringify) comes from its packed manifest, not from here,
# so a dependency missing from libs/idempotency/package.json fails the smoke test.
(cd "$HERE" && timeout "$INSTALL_TIMEOUT_S" npm install --no-save --no-audit --no-fund --ignore-scripts \
  --loglevel=error "$TARBALL")

STEP="run smoke.cjs"
log "$STEP"
(cd "$HERE" && timeout --kill-after=5 "$SMOKE_TIMEOUT_S" node smoke.cjs)

STEP="run smoke-microservices.cjs (needs RabbitMQ)"
log "$STEP"
(cd "$HERE" && timeout --kill-after=5 "$SMOKE_TIMEOUT_S" node smoke-microservices.cjs)
