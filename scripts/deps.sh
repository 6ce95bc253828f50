#!/usr/bin/env bash
# Installs the Debian 12 packages Confab needs, only those missing.
# Usage: scripts/deps.sh [--test]   (--test adds what the tests need)
set -euo pipefail
packages=(g++ cmake ninja-build ccache pkg-config libcaf-dev libboost1.81-all-dev librocksdb-dev libvips-dev libmagic-dev
          libssl-dev libsodium-dev libargon2-dev nlohmann-json3-dev libspdlog-dev openssl libxapian-dev libglib2.0-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(python3 python3-websocket python3-pil python3-cryptography curl clang-format prometheus chromium nodejs iproute2 nftables)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# NodeSource's nodejs (this machine's) brings npm; Debian's needs the npm package.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null; then
  missing+=(npm)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
