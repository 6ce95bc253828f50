#!/usr/bin/env bash
# Fails when an include goes against the arrows of docs/ARCHITECTURE.md.
# Every folder with C++ in it is checked; a folder this script does not know
# is an error too, so that a new module gets its arrows written down here.
set -uo pipefail
cd "$(dirname "$0")/.."

# folder -> the project folders its files may include (itself implied).
declare -A may=(
  [config]=""
  [api]="config"
  [stream]=""
  [storage]="api config"
  [cluster]="api config"
  [wire]="api"
  [gateway]="api cluster wire config"
  [actors]="api storage cluster wire gateway config"
  [net]="api wire stream config"
  [client]="stream"
  [apps]="api config storage cluster actors gateway net client stream"
  [apps/bench]="client stream"
  [tests/unit]="api config storage cluster wire actors gateway"
  [tests/unit/apps]="api config apps"
  [tests/fuzz]="api config storage wire actors gateway net stream"
  [tests/integration]="api config storage cluster actors"
)
# folder -> third-party headers it must not include.
declare -A banned=(
  [config]="caf/ rocksdb/ boost/"
  [api]="rocksdb/ boost/ caf/io"
  [stream]="caf/ rocksdb/"
  [storage]="caf/io boost/(beast|asio)"
  [cluster]="rocksdb/ boost/(beast|asio)"
  [wire]="rocksdb/ caf/io boost/(beast|asio)"
  [gateway]="rocksdb/ boost/(beast|asio) caf/io"
  [actors]="rocksdb/ boost/(beast|asio)"
  [net]="rocksdb/ caf/io"
  [client]="caf/ rocksdb/"
  [apps/bench]="caf/ rocksdb/"
)

# The folder whose rules apply to a file: the longest known prefix.
rules_for() {
  local f=$1 best=""
  for k in "${!may[@]}"; do
    if [[ $f == "$k"/* && ${#k} -gt ${#best} ]]; then best=$k; fi
  done
  echo "$best"
}

include_re='include *["<]([^">]+)[">]'
bad=""
while IFS= read -r f; do
  f=${f#./}
  folder=$(rules_for "$f")
  if [[ -z $folder ]]; then
    bad+="$f: a folder with no rules in scripts/check-layers.sh"$'\n'
    continue
  fi
  while IFS= read -r line; do
    # Bash's own regex, not a sed and a grep per line: this runs for every
    # include of the tree.
    [[ $line =~ $include_re ]] || continue
    inc=${BASH_REMATCH[1]}
    top=${inc%%/*}
    # Its own folder, a folder it may include, or no folder of this tree.
    if [[ $inc == */* && -d $top && $inc != "$folder"/* && " ${may[$folder]} " != *" $top "* ]]; then
      bad+="$f: $line"$'\n'
    fi
    for b in ${banned[$folder]:-}; do
      if [[ $inc =~ ^$b ]]; then bad+="$f: $line"$'\n'; fi
    done
  done < <(grep -hE '^ *# *include' "$f")
done < <(git ls-files --cached --others --exclude-standard -- '*.cpp' '*.hpp' | grep -v '^web/' | sort)

if [[ -n $bad ]]; then
  echo "includes against the layering of docs/ARCHITECTURE.md:"
  printf '%s' "$bad"
  exit 1
fi
echo "layering ok"
