#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (playwright-core drives it; its own
# browser download cannot work offline). Idempotent; prints the executable's path.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then echo "chromium is missing and installing it needs root (apt-get install chromium)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
fi
command -v chromium
