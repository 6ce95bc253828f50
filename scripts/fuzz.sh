#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan+UBSan) into
# ${FUZZ_BUILD_DIR:-build-fuzz}, then for each target replays its regression
# inputs (tests/fuzz/regressions/<target>/) and fuzzes for ${FUZZ_S:-30} s from
# a copy of its seed corpus (the committed corpus never grows). Prints one line
# per target and "fuzz: N passed, M failed"; exits non-zero when a target
# failed. A crashing input is kept in build-fuzz/crashes/<target>/.
# Usage: [FUZZ_S=30] scripts/fuzz.sh [target...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/deps.sh
# libclang-rt-14-dev (libFuzzer, sanitizer runtimes) is only recommended by
# clang-14; llvm-14 brings llvm-symbolizer, for readable stacks.
packages=(clang libclang-rt-14-dev llvm-14)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_S:-30}
start=$(date +%s)
if [[ ! -f "$build_dir/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S tests/fuzz -B "$build_dir" -G Ninja >/dev/null
fi
ninja -C "$build_dir" -j1 >"$build_dir/build.log" || { tail -n 50 "$build_dir/build.log"; exit 1; }
echo "fuzz build took $(($(date +%s) - start)) s"

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/*.cpp; do
    targets+=("$(basename "$f" .cpp)")
  done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[[ -x $symbolizer ]] && export ASAN_SYMBOLIZER_PATH=$symbolizer

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
for t in "${targets[@]}"; do
  bin="$root/$build_dir/bin/fuzz_$t"
  log="$root/$build_dir/fuzz_$t.log"
  crashes="$root/$build_dir/crashes/$t"
  mkdir -p "$crashes" "$work/$t"
  : >"$log"
  status=ok
  note=""
  regressions=()
  if [[ ! -x $bin ]]; then
    # A name that is no target (e.g. fuzz_http for http) says so.
    echo "$t: no such target (tests/fuzz/$t.cpp)"
    failed=$((failed + 1))
    continue
  fi
  if [[ -d tests/fuzz/regressions/$t ]]; then
    while IFS= read -r -d '' f; do regressions+=("$f"); done < <(find "tests/fuzz/regressions/$t" -type f -print0)
  fi
  if [[ ${#regressions[@]} -gt 0 ]] && ! "$bin" "${regressions[@]}" >>"$log" 2>&1; then
    status=failed
    note="a regression fails again: $(grep -o "Running: .*" "$log" | tail -n 1 | sed 's/Running: //')"
  fi
  if [[ $status == ok ]]; then
    [[ -d tests/fuzz/corpus/$t ]] && cp -r "tests/fuzz/corpus/$t/." "$work/$t/"
    if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$crashes/" "$work/$t" >>"$log" 2>&1; then
      status=failed
      note="input: $(grep -o "Test unit written to .*" "$log" | tail -n 1 | sed 's/Test unit written to //')"
    fi
  fi
  stat_of() { grep -oE "$1[[:space:]]*[0-9]+" "$log" | tail -n 1 | grep -oE "[0-9]+$" || true; }
  runs=$(stat_of "stat::number_of_executed_units:")
  rate=$(stat_of "stat::average_exec_per_sec:")
  cov=$(stat_of "cov:")
  if [[ $status == ok ]]; then
    passed=$((passed + 1))
    echo "fuzz_$t: ok: ${#regressions[@]} regressions, ${runs:-0} runs in ${seconds} s, ${rate:-0} exec/s, ${cov:-0} edges"
  else
    failed=$((failed + 1))
    echo "fuzz_$t: FAILED: $note (log: $log)"
    grep -m 1 -E "runtime error: |ERROR: AddressSanitizer|ERROR: LeakSanitizer|uncaught exception|deadly signal" "$log" || true
    # What CI's log keeps of it: an assertion's or exception's words, the
    # first frames of the stack, and a small input itself (base64), so that
    # a crash found on another machine can be replayed here.
    grep -m 3 -E "Assertion|terminate called|what\(\)" "$log" || true
    grep -m 12 -E "^ +#[0-9]+ " "$log" || true
    input=$(grep -o "Test unit written to .*" "$log" | tail -n 1 | sed 's/Test unit written to //')
    if [[ -n $input && -f $input && $(stat -c %s "$input") -le 4096 ]]; then
      echo "input (base64, $(stat -c %s "$input") bytes): $(base64 -w 0 "$input")"
    fi
  fi
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
