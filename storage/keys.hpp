#pragma once

// Key layout of the column families. Ids never contain '\0', so '\0' separates
// parts and a prefix scan stays inside one room or user; seqs are big-endian
// so keys sort in seq order.

#include <string>
#include <string_view>

#include "api/ids.hpp"

namespace confab::storage::keys {

[[nodiscard]] std::string pair(std::string_view a, std::string_view b);
[[nodiscard]] std::string message(const api::room_id& room, api::seq_t seq);
[[nodiscard]] std::string room_prefix(const api::room_id& room);
[[nodiscard]] api::seq_t seq_of(std::string_view message_key);
[[nodiscard]] std::string dedupe(const api::user_id& user, const api::room_id& room, std::string_view client_msg_id);

}  // namespace confab::storage::keys
