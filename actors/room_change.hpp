#pragma once

// One change of a room, as an entry of its replicated log
// (docs/REPLICATION.md): what the room actor decided, applied to the store
// of every copy once the entry is committed, so that each copy's room,
// members, messages, dedupe records and read markers are the same. With one
// copy (--replication 1) the room actor applies its changes at once.
// Encoded in CAF's binary format; stored bytes are not trusted: decoding
// fails as a value.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "api/messages.hpp"

namespace confab::storage {
class room_store;
class log_store;
}  // namespace confab::storage

namespace confab::actors {

struct room_change {
  // update: a message's new JSON (an edit or a delete) replaces it at seq.
  enum kind_t : std::uint8_t { create = 1, message = 2, member = 3, leave = 4, read = 5, update = 6 };
  std::uint8_t kind = 0;
  api::room_info room;  // create
  // create: every member and role; member: the one (role "member", "invited"
  // or "owner"); leave, read: the user (role empty).
  std::vector<std::pair<api::user_id, std::string>> members;
  api::seq_t seq = 0;         // message, update: its seq; read: the new marker
  std::string text;           // message, update: its JSON as clients see it
  std::string client_msg_id;  // message: the sender's, or empty
  // message, update: other messages replaced with it, atomically (seq, new
  // JSON): the root of a thread a reply is added to or deleted from.
  // Without any, a change is encoded as before threads (six fields).
  std::vector<std::pair<api::seq_t, std::string>> rewrites;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_change& x) {
  return f(x.kind, x.room, x.members, x.seq, x.text, x.client_msg_id, x.rewrites);
}

[[nodiscard]] std::string encode(const room_change& x);
// The same change: the same bytes (the encoding is deterministic).
[[nodiscard]] inline bool operator==(const room_change& a, const room_change& b) {
  return encode(a) == encode(b);
}
// An error for bytes that are not one whole change of a known kind.
[[nodiscard]] caf::expected<room_change> decode_room_change(std::string_view bytes);

// Writes the change to the room and log stores. Applying a prefix of a room's changes again, in
// order, leaves the same state (a restarted copy may repeat a few).
[[nodiscard]] caf::error apply(storage::room_store& rooms, storage::log_store& log, const api::room_id& room,
                               const room_change& x);

}  // namespace confab::actors
