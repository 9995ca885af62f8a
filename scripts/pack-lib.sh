#!/usr/bin/env bash
# `npm run pack:lib [-- <directory>]`: builds libs/idempotency from a clean dist/ and packs it with npm, the way
# `npm publish` would, into <directory> (default dist/packages). Its last line of output is the tarball's absolute
# path, for scripts: `npm install "$(npm run --silent pack:lib | tail -1)"`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$ROOT/libs/idempotency"
DEST="${1:-$ROOT/dist/packages}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

# A stale file in dist/ (a module since removed) would ship otherwise.
rm -rf "$LIB/dist"
(cd "$ROOT" && npx --no-install tsc -p libs/idempotency/tsconfig.lib.json) >&2
# --ignore-scripts: the build above is the only one; --json: the file name without parsing npm's notices.
NAME="$(cd "$LIB" && npm pack --ignore-scripts --json --loglevel=error --pack-destination "$DEST" \
  | node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => console.log(JSON.parse(s)[0].filename))')"
test -f "$DEST/$NAME" || { echo "npm pack wrote no $DEST/$NAME" >&2; exit 1; }
echo "$DEST/$NAME"
