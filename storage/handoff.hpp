#pragma once

// Moving rooms between nodes: every room held here, pieces out and in, the
// fence of a room being handed off, dropping a room, and the nodes removed for
// good. Column families handoffs, removed (and every room family, for pieces).
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
#include "storage/room_log.hpp"
#include "storage/rooms.hpp"
#include "storage/users.hpp"

namespace confab::storage {

class handoff_store {
 public:
  handoff_store() = default;
  explicit handoff_store(std::shared_ptr<database> d) : d_(std::move(d)), users_(d_), rooms_(d_), log_(d_) {}

  // handoff (storage/handoff.cpp): moving a room to another node
  // Ids of every room stored here.
  [[nodiscard]] caf::expected<std::vector<api::room_id>> room_ids() const;
  // Up to `limit` messages after `after_seq`; when they are the last ones,
  // the piece is the last and carries the room, members and read markers.
  [[nodiscard]] caf::expected<api::room_piece> export_piece(const api::room_id& room, api::seq_t after_seq,
                                                            std::uint32_t limit) const;
  // Writes a piece; the last one (room, members, markers) in one batch.
  [[nodiscard]] caf::error import_piece(const api::room_piece& piece);
  // The fence of a room being handed off: the node it goes to. While it is
  // set this node serves no request for the room.
  [[nodiscard]] caf::error set_moving(const api::room_id& room, const std::string& target);
  [[nodiscard]] caf::expected<std::string> moving_to(const api::room_id& room) const;
  [[nodiscard]] caf::error clear_moving(const api::room_id& room);
  // Deletes the room and everything kept for it (and its fence), in one
  // batch; with_log: its replicated log and log state too (a copy dropped
  // from the room's copy set).
  [[nodiscard]] caf::error drop_room(const api::room_id& room, bool with_log = false);
  // cluster members removed for good (confabctl remove), never admitted
  // again; fsynced
  [[nodiscard]] caf::error add_removed_node(const std::string& id);
  [[nodiscard]] caf::expected<std::vector<std::string>> removed_nodes() const;

 private:
  std::shared_ptr<database> d_;
  // A piece carries the room, its members, messages and read markers; a
  // stored message's sender names the key of its dedupe record.
  user_store users_;
  room_store rooms_;
  log_store log_;
};

}  // namespace confab::storage
