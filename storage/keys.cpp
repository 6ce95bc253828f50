#include "storage/keys.hpp"

namespace confab::storage::keys {

std::string pair(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + b.size() + 1);
  out.append(a).push_back('\0');
  out.append(b);
  return out;
}

std::string room_prefix(const api::room_id& room) {
  return room.value + '\0';
}

std::string message(const api::room_id& room, api::seq_t seq) {
  auto out = room_prefix(room);
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((seq >> shift) & 0xff));
  return out;
}

api::seq_t seq_of(std::string_view key) {
  api::seq_t seq = 0;
  if (key.size() < 8)
    return 0;
  for (auto c : key.substr(key.size() - 8))
    seq = (seq << 8) | static_cast<unsigned char>(c);
  return seq;
}

std::string dedupe(const api::user_id& user, const api::room_id& room, std::string_view client_msg_id) {
  return pair(pair(user.value, room.value), client_msg_id);
}

}  // namespace confab::storage::keys
