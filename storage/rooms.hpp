#pragma once

// Rooms and their members: room records, member roles, the rooms of each user,
// the public room list. Column families rooms, members, user_rooms.
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

namespace confab::storage {

class room_store {
 public:
  room_store() = default;
  explicit room_store(std::shared_ptr<database> d) : d_(std::move(d)) {}

  // rooms and members
  [[nodiscard]] caf::error put_room(const api::room_info& room,
                                    const std::vector<std::pair<api::user_id, std::string>>& members);
  [[nodiscard]] caf::expected<api::room_info> room(const api::room_id& id) const;
  // Up to `limit` public rooms with ids after `after` (empty: from the first), by id.
  [[nodiscard]] caf::expected<std::vector<api::room_info>> public_rooms(const std::string& after,
                                                                        std::size_t limit) const;
  [[nodiscard]] caf::expected<std::map<api::user_id, std::string>> members(const api::room_id& id) const;
  // The role of `user` in `room` (owner, member, invited), empty for none:
  // one key read, not the member list.
  [[nodiscard]] caf::expected<std::string> role(const api::room_id& room, const api::user_id& user) const;
  [[nodiscard]] caf::error set_member(const api::room_id& room, const api::user_id& user, const std::string& role);
  [[nodiscard]] caf::error remove_member(const api::room_id& room, const api::user_id& user);
  [[nodiscard]] caf::expected<std::vector<api::room_id>> rooms_of(const api::user_id& user) const;

 private:
  std::shared_ptr<database> d_;
};

}  // namespace confab::storage
