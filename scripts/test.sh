#!/usr/bin/env bash
# Installs what is missing, builds with -Werror, and runs every test through
# ctest. Extra arguments go to ctest (e.g. -L integration, -R unit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
start=$(date +%s)
scripts/build.sh -DCONFAB_WERROR=ON
echo "build took $(( $(date +%s) - start )) s"
start=$(date +%s)
cd build
ctest --output-on-failure --timeout 600 "$@"
echo "tests took $(( $(date +%s) - start )) s"
