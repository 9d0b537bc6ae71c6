#!/usr/bin/env bash
# Installs systemd-analyze (Debian's systemd package) for the test that verifies the unit
# `igloo build` writes. Idempotent; prints the executable's path.
set -euo pipefail
if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then echo "systemd-analyze is missing and installing it needs root (apt-get install systemd)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq systemd >/dev/null
fi
command -v systemd-analyze
