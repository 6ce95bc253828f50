#!/usr/bin/env bash
# Runs one browser test (default admin.test.mjs, the admin console; client.test.mjs
# is the web client): installs playwright-core from package-lock.json when
# node_modules is missing (npm registry only; no browser download: the tests
# drive Debian's /usr/bin/chromium), then runs the test script.
# Usage: run.sh [TEST.mjs] [args...]   or   run.sh --install (only installs)
# Env: CONFABD (default build/bin/confabd), ARTIFACTS_DIR, CHROMIUM.
set -euo pipefail
# CONFABD and ARTIFACTS_DIR may be relative to the caller's directory: make them
# absolute before the cd below.
for v in CONFABD ARTIFACTS_DIR; do
  if [[ -n "${!v:-}" && "${!v}" != /* ]]; then export "$v=$PWD/${!v}"; fi
done
cd "$(dirname "$0")"
install() {
  if [[ ! -d node_modules/playwright-core ]]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  fi
}
if [[ "${1:-}" == "--install" ]]; then
  install
  exit 0
fi
script=admin.test.mjs
if [[ $# -gt 0 && "$1" == *.mjs ]]; then
  script="$1"
  shift
fi
if [[ ! -f "$script" ]]; then
  echo "run.sh: no test script $script in $(pwd)" >&2
  exit 2
fi
install
# Node 20 has a global WebSocket only behind this flag (Node 22 has it by default).
exec node --experimental-websocket "$script" "$@"
