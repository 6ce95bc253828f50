#!/usr/bin/env bash
# Installs what is missing, builds Release, and starts one node on
# 127.0.0.1:8080 with its RocksDB in ./data. Extra arguments go to confabd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
echo "starting confabd (Ctrl-C stops it)"
build/bin/confabd --bind 127.0.0.1 --http-port 8080 --data-dir ./data "$@" | while IFS= read -r line; do
  case "$line" in
    "confabd admin-token="*) echo "admin token: ${line#confabd admin-token=}" ;;
    "confabd ready "*) echo "$line"; port=$(sed -n 's/.* http=\([0-9]*\).*/\1/p' <<<"$line")
                       echo "Confab is up: http://127.0.0.1:${port}/  (WebSocket: ws://127.0.0.1:${port}/ws)" ;;
    *) echo "$line" ;;
  esac
done
