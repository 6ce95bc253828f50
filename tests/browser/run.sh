#!/usr/bin/env bash
# Runs the browser tests of the admin console: installs playwright-core from
# package-lock.json when node_modules is missing (npm registry only; no browser
# download: the test drives Debian's /usr/bin/chromium), then runs the test.
# Env: CONFABD (default build/bin/confabd), ARTIFACTS_DIR, CHROMIUM.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -d node_modules/playwright-core ]]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
# Node 20 has a global WebSocket only behind this flag (Node 22 has it by default).
exec node --experimental-websocket admin.test.mjs "$@"
