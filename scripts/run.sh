#!/usr/bin/env bash
# Installs what is missing, builds Release, and starts one node on
# 127.0.0.1:8080 with its RocksDB in ./data (confabd's defaults). Extra
# arguments go to confabd and may change any of them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
echo "starting confabd (Ctrl-C stops it)"
build/bin/confabd "$@" | while IFS= read -r line; do
  case "$line" in
    "confabd admin-token="*) echo "admin token: ${line#confabd admin-token=}" ;;
    "confabd ready "*) echo "$line"; port=$(sed -n 's/.* http=\([0-9]*\).*/\1/p' <<<"$line")
                       echo "Confab is up: http://127.0.0.1:${port}/  (WebSocket: ws://127.0.0.1:${port}/ws)" ;;
    *) echo "$line" ;;
  esac
done
