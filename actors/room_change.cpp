#include "actors/room_change.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "api/errors.hpp"
#include "storage/room_log.hpp"
#include "storage/rooms.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

std::string encode(const room_change& x) {
  auto copy = x;
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  // Without rewrites, the layout from before threads: the same bytes as
  // then, which older nodes read.
  auto err = copy.rewrites.empty() ? sink(copy.kind, copy.room, copy.members, copy.seq, copy.text, copy.client_msg_id)
                                   : sink(copy);
  if (err)
    return {};  // writing to memory does not fail
  return {buf.begin(), buf.end()};
}

namespace {

// Whole bytes in the layout of `inspect` with rewrites, or in the one
// before threads (six fields, what encode writes without rewrites): no
// bytes read both ways.
bool read_whole(std::string_view bytes, room_change& x) {
  caf::binary_deserializer source{nullptr, bytes.data(), bytes.size()};
  if (!source(x) && source.remaining() == 0 && !x.rewrites.empty())
    return true;
  x = room_change{};
  caf::binary_deserializer old{nullptr, bytes.data(), bytes.size()};
  return !old(x.kind, x.room, x.members, x.seq, x.text, x.client_msg_id) && old.remaining() == 0;
}

}  // namespace

caf::expected<room_change> decode_room_change(std::string_view bytes) {
  room_change x;
  if (!read_whole(bytes, x))
    return fail(errc::unavailable, "stored room change unreadable");
  for (auto& [seq, text] : x.rewrites)
    if (seq == 0 || text.empty() || (x.kind != room_change::message && x.kind != room_change::update))
      return fail(errc::unavailable, "stored room change is malformed");
  bool one_user = x.members.size() == 1;
  switch (x.kind) {
    case room_change::create:
      return x;
    case room_change::message:
      if (x.seq == 0 || !one_user)
        break;
      return x;
    case room_change::member:
    case room_change::leave:
    case room_change::read:
      if (!one_user)
        break;
      return x;
    case room_change::update:
      if (x.seq == 0 || x.text.empty() || !x.members.empty())
        break;
      return x;
    default:
      break;
  }
  return fail(errc::unavailable, "stored room change is malformed");
}

caf::error apply(storage::room_store& rooms, storage::log_store& log, const api::room_id& room, const room_change& x) {
  switch (x.kind) {
    case room_change::create:
      return rooms.put_room(x.room, x.members);
    case room_change::message:
      return log.append({room, x.seq, x.text, x.members.front().first, x.client_msg_id, x.rewrites});
    case room_change::member:
      return rooms.set_member(room, x.members.front().first, x.members.front().second);
    case room_change::leave:
      return rooms.remove_member(room, x.members.front().first);
    case room_change::read:
      return log.set_last_read(x.members.front().first, room, x.seq);
    case room_change::update:  // the message's record is rewritten; no dedupe record
      return log.append({room, x.seq, x.text, {}, {}, x.rewrites});
    default:
      return fail(errc::unavailable, "unknown room change");
  }
}

}  // namespace confab::actors
