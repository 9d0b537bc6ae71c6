#!/bin/sh
# Installs the npm dependencies when they are missing or older than the lockfile, so
# `npm run demo` and `npm test` work on a fresh clone. Bun itself comes from npm.
set -e
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
