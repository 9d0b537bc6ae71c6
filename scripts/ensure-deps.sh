#!/bin/sh
# Installs the npm dependencies when they are missing or older than the lockfile, so
# `npm run demo` and `npm test` work on a fresh clone. Bun itself comes from npm.
set -e
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Not `npm ci`: chDB lists per-platform optional packages, and the registry mirror here
  # has only the linux-x64 one, so the lockfile cannot name the others and `npm ci`
  # calls it out of sync. `npm install` still installs the locked versions.
  npm install --no-audit --no-fund
fi
