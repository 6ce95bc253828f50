#pragma once

// A room's replicated log in the node's RocksDB (the rlog and rlog_state
// column families of storage::store): the log_store of
// cluster/replication.hpp, and the encoding of entries and state in CAF's
// binary format. Stored bytes are not trusted: decoding fails as a value.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "api/ids.hpp"
#include "cluster/replication.hpp"
#include "storage/room_log.hpp"

namespace confab::actors::replica_log {

[[nodiscard]] std::string encode(const cluster::replication::entry& x);
[[nodiscard]] caf::expected<cluster::replication::entry> decode_entry(std::string_view bytes);

// What a copy saves with its promise: the promise, its commit point then,
// the copy set the copy was made with, and the copy set of its log then
// (which node holds a copy, and where requests go, is known from its disk
// before the log is read).
struct state {
  cluster::replication::epoch promised;
  std::uint64_t committed = 0;
  std::vector<std::string> copies;
  std::vector<std::string> current;
  friend bool operator==(const state&, const state&) = default;
};
[[nodiscard]] std::string encode_state(const state& x);
[[nodiscard]] caf::expected<state> decode_state(std::string_view bytes);
// The saved state of `room`'s log here; not_found when this node holds no copy.
[[nodiscard]] caf::expected<state> saved_state(const storage::log_store& db, const api::room_id& room);

struct loaded {
  cluster::replication::copy log;  // its copies() is the room's copy set
};
// The copy of `room`'s log that this node keeps, backed by `db` from now on;
// for a room it never held, an empty one of the copy set `copies`.
[[nodiscard]] caf::expected<loaded> load(storage::log_store db, const api::room_id& room,
                                         std::vector<std::string> copies = {});

}  // namespace confab::actors::replica_log
