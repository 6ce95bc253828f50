#!/usr/bin/env bash
# Configures and builds Confab (Release, Ninja, ccache) into ${BUILD_DIR:-build}.
# Extra arguments go to cmake, e.g. -DCONFAB_WERROR=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
# TARGETS (space-separated) limits what is built; default all.
ninja -C "$build_dir" -j "${JOBS:-2}" ${TARGETS:-}
