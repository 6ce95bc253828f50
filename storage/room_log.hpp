#pragma once

// The log of each room: its messages in seq order with their dedupe records,
// read markers, history pages, and the replicated log and its state
// (docs/REPLICATION.md). Column families messages, dedupe, reads, rlog,
// rlog_state.
//
// Thread-safe; every rocksdb::Status becomes a caf::error here.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "api/messages.hpp"
#include "storage/database.hpp"
#include "storage/search_index.hpp"

namespace confab::storage {

// A message to append, with the dedupe record written in the same batch.
struct append_entry {
  api::room_id room;
  api::seq_t seq = 0;
  std::string message_json;
  api::user_id from;
  std::string client_msg_id;  // empty: no dedupe record
  // Other messages of the room replaced in the same batch (seq, JSON): a
  // thread's root with its new summary.
  std::vector<std::pair<api::seq_t, std::string>> also;
};

class log_store {
 public:
  log_store() = default;
  explicit log_store(std::shared_ptr<database> d) : d_(std::move(d)) {}

  // messages
  [[nodiscard]] caf::error append(const append_entry& entry);
  [[nodiscard]] caf::expected<api::seq_t> last_seq(const api::room_id& room) const;
  [[nodiscard]] caf::expected<std::string> message(const api::room_id& room, api::seq_t seq) const;
  [[nodiscard]] caf::expected<api::seq_t> dedupe(const api::user_id& user, const api::room_id& room,
                                                 const std::string& client_msg_id) const;
  // Ascending page: with `after`, the oldest `limit` above it (and below
  // `before`); otherwise the newest `limit` below `before` (or overall).
  [[nodiscard]] caf::expected<api::history_page> history(const api::room_id& room, std::optional<api::seq_t> before,
                                                         std::optional<api::seq_t> after, std::uint32_t limit) const;
  // Full-text search of the messages stored here (search_index.hpp): up
  // to `limit` hits among `rooms`, newest first, below the cursor `before`.
  [[nodiscard]] caf::expected<std::vector<search_hit>> search(const std::string& query,
                                                              const std::vector<api::room_id>& rooms,
                                                              const std::string& before, std::uint32_t limit) const;
  // read markers
  [[nodiscard]] caf::expected<api::seq_t> last_read(const api::user_id& user, const api::room_id& room) const;
  [[nodiscard]] caf::error set_last_read(const api::user_id& user, const api::room_id& room, api::seq_t seq);
  // replicated logs (docs/REPLICATION.md), as opaque bytes per index. One
  // batch removes the entries after `truncate_after` (none when it is at or
  // past the end) and writes `entries` to the WAL (under fsync the caller
  // makes them durable with sync_wal: a group commit, actors/replica.hpp).
  // The state is always fsynced: safety rests on a promise not being
  // forgotten.
  using log_entries = std::vector<std::pair<std::uint64_t, std::string>>;
  [[nodiscard]] caf::error put_log(const api::room_id& room, std::uint64_t truncate_after, const log_entries& entries);
  // Up to `max` entries after `after`, in index order.
  [[nodiscard]] caf::expected<log_entries> log_range(const api::room_id& room, std::uint64_t after,
                                                     std::size_t max) const;
  [[nodiscard]] caf::error put_log_state(const api::room_id& room, std::string_view state);
  // not_found for a room whose log has no state yet.
  [[nodiscard]] caf::expected<std::string> log_state(const api::room_id& room) const;
  // Every room with a log state here (a copy of it is kept here).
  [[nodiscard]] caf::expected<std::vector<api::room_id>> log_rooms() const;

 private:
  std::shared_ptr<database> d_;
};

}  // namespace confab::storage
