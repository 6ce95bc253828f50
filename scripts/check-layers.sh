#!/usr/bin/env bash
# Fails when an include goes against the arrows of ARCHITECTURE.md.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=$( {
  grep -rnE '#include *[<"](caf/|boost/|rocksdb/|actors/|storage/|net/|wire/|cluster/)' config
  grep -rnE '#include *[<"](boost/|rocksdb/|storage/|net/|wire/|cluster/|actors/[a-z_]+\.hpp)' actors/api
  grep -rnE '#include *[<"](caf/io|boost/beast|boost/asio|actors/[a-z_]+\.hpp|net/|cluster/|wire/)' storage
  grep -rnE '#include *[<"](boost/beast|boost/asio|net/|storage/|actors/[a-z_]+\.hpp|wire/)' cluster
  grep -rnE '#include *[<"](boost/beast|boost/asio|net/)' actors
  grep -rnE '#include *[<"](storage/|cluster/|net/|actors/[a-z_]+\.hpp|rocksdb/)' wire
  grep -rnE '#include *[<"](storage/|cluster/|actors/[a-z_]+\.hpp|rocksdb/)' net
  grep -rnE '#include *[<"](caf/|rocksdb/|storage/|actors/|net/|wire/|cluster/)' client 2>/dev/null
} )
if [[ -n "$bad" ]]; then
  echo "includes against the layering of ARCHITECTURE.md:"
  echo "$bad"
  exit 1
fi
echo "layering ok"
