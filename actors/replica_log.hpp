#pragma once

// A room's replicated log in the node's RocksDB (the rlog and rlog_state
// column families of storage::store): the log_store of
// cluster/replication.hpp, and the encoding of entries and state in CAF's
// binary format. Stored bytes are not trusted: decoding fails as a value.

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <caf/expected.hpp>

#include "actors/api/ids.hpp"
#include "cluster/replication.hpp"

namespace confab::storage {
class store;
}

namespace confab::actors::replica_log {

[[nodiscard]] std::string encode(const cluster::replication::entry& x);
[[nodiscard]] caf::expected<cluster::replication::entry> decode_entry(std::string_view bytes);
[[nodiscard]] std::string encode_state(const cluster::replication::epoch& promised, std::uint64_t committed);
[[nodiscard]] caf::expected<std::pair<cluster::replication::epoch, std::uint64_t>> decode_state(std::string_view bytes);

// The copy of `room`'s log that this node keeps, backed by `db` from now on
// (an empty one for a room it never held).
[[nodiscard]] caf::expected<cluster::replication::copy> load(std::shared_ptr<storage::store> db,
                                                             const api::room_id& room);

}  // namespace confab::actors::replica_log
