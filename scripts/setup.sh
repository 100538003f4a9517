#!/usr/bin/env bash
# Set-up on a fresh machine: install the npm dependencies and build.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npm run build
