#!/usr/bin/env bash
# Installs what is missing, builds with -Werror, and runs every test through
# ctest; then builds the unit tests with ASan+UBSan and runs them again.
# Extra arguments go to the first ctest (e.g. -L integration, -R unit); the
# scale run is left out (ctest --test-dir build -L scale runs it).
# SKIP_SANITIZE=1 skips the sanitizer stage; SKIP_FUZZ=1 the fuzz stage, which
# runs each libFuzzer target of tests/fuzz for FUZZ_S seconds (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
start=$(date +%s)
scripts/build.sh -DCONFAB_WERROR=ON
echo "build took $(( $(date +%s) - start )) s"
start=$(date +%s)
# the scale run (label scale, minutes of 16 nodes) is not part of it
(cd build && ctest -j2 --output-on-failure --timeout 600 -LE scale "$@")
echo "tests took $(( $(date +%s) - start )) s"
if [[ "${SKIP_FUZZ:-0}" != 1 ]]; then
  start=$(date +%s)
  FUZZ_S=${FUZZ_S:-20} scripts/fuzz.sh
  echo "fuzz stage took $(( $(date +%s) - start )) s"
fi
if [[ "${SKIP_SANITIZE:-0}" != 1 ]]; then
  start=$(date +%s)
  # -O1 -g1 (line tables only): half the compile time of -O2 -g, as good for
  # the sanitizers' reports.
  BUILD_DIR=build-asan TARGETS=unit_tests scripts/build.sh -DCONFAB_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
  (cd build-asan && ctest -j2 --output-on-failure --timeout 600 -L unit)
  echo "sanitizer stage took $(( $(date +%s) - start )) s"
fi
