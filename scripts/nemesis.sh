#!/usr/bin/env bash
# A nemesis run (tests/nemesis, docs/RELIABILITY.md): five confabd nodes in
# network namespaces under a seeded schedule of kills, pauses and partitions,
# then the checker. Needs root (ip netns, nftables).
# Usage: scripts/nemesis.sh [--minutes M] [--seed S] [--out report.json] [other nemesis.py flags]
# e.g. a soak: scripts/nemesis.sh --minutes 30 --seed 7 --out soak.json
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=3
args=()
while (($#)); do
  case "$1" in
    --minutes) minutes=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
    *) args+=("$1"); shift ;;
  esac
done
if ! [[ "$minutes" =~ ^[0-9]+$ ]] || ((minutes < 1)); then
  echo "nemesis.sh: --minutes takes a whole number of minutes, at least 1" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "nemesis.sh: needs root (network namespaces and nftables)" >&2
  exit 2
fi
scripts/deps.sh --test
scripts/build.sh   # incremental: the run tests this checkout
exec /usr/bin/python3 tests/nemesis/nemesis.py --seconds "$((minutes * 60))" "${args[@]}"
