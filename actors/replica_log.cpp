#include "actors/replica_log.hpp"

#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "api/errors.hpp"
#include "storage/room_log.hpp"

namespace confab::actors::replica_log {

namespace rep = cluster::replication;
using api::errc;
using api::fail;

namespace {

template <class... Ts>
std::string to_bytes(Ts&... xs) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  if (auto err = sink(xs...))
    return {};  // writing to memory does not fail
  return {buf.begin(), buf.end()};
}

// Reads `xs` from all of `bytes`: trailing bytes are corruption too.
template <class... Ts>
caf::error from_bytes(std::string_view bytes, Ts&... xs) {
  caf::binary_deserializer source{nullptr, bytes.data(), bytes.size()};
  if (auto err = source(xs...))
    return fail(errc::unavailable, "stored replication record unreadable");
  if (source.remaining() != 0)
    return fail(errc::unavailable, "stored replication record has trailing bytes");
  return caf::none;
}

// The entries of stored rows that should be the ones after `after`: a row
// that does not decode, or an index out of its place, is an error (a gap or
// corruption), never a shorter log.
caf::expected<std::vector<rep::entry>> decode_rows(const api::room_id& room, std::uint64_t after,
                                                   const storage::log_store::log_entries& rows) {
  std::vector<rep::entry> out;
  out.reserve(rows.size());
  for (auto& [index, bytes] : rows) {
    auto e = decode_entry(bytes);
    if (!e)
      return e.error();
    if (e->index != index || index != after + out.size() + 1)
      return fail(errc::unavailable, "stored replication log of " + room.value + " has a gap");
    out.push_back(std::move(*e));
  }
  return out;
}

class rocks_log final : public rep::log_store {
 public:
  rocks_log(storage::log_store db, api::room_id room, std::vector<std::string> copies)
      : db_(std::move(db)), room_(std::move(room)), copies_(std::move(copies)) {}

  caf::error save_state(const rep::epoch& promised, std::uint64_t committed,
                        const std::vector<std::string>& current) override {
    return db_.put_log_state(room_, encode_state({promised, committed, copies_, current}));
  }

  caf::error save_entries(std::uint64_t truncate_after, const std::vector<rep::entry>& entries) override {
    storage::log_store::log_entries rows;
    rows.reserve(entries.size());
    for (auto& e : entries)
      rows.emplace_back(e.index, encode(e));
    return db_.put_log(room_, truncate_after, rows);
  }

  caf::expected<std::vector<rep::entry>> read(std::uint64_t after, std::size_t max) const override {
    auto rows = db_.log_range(room_, after, max);
    if (!rows)
      return rows.error();
    return decode_rows(room_, after, *rows);
  }

 private:
  storage::log_store db_;
  api::room_id room_;
  std::vector<std::string> copies_;
};

}  // namespace

std::string encode(const rep::entry& x) {
  auto copy = x;
  return to_bytes(copy);
}

caf::expected<rep::entry> decode_entry(std::string_view bytes) {
  rep::entry x;
  if (auto err = from_bytes(bytes, x))
    return err;
  return x;
}

std::string encode_state(const state& x) {
  auto copy = x;
  return to_bytes(copy.promised, copy.committed, copy.copies, copy.current);
}

caf::expected<state> decode_state(std::string_view bytes) {
  state out;
  // A state saved before copy sets could change has no `current`.
  if (from_bytes(bytes, out.promised, out.committed, out.copies, out.current)) {
    out = state{};
    if (auto err = from_bytes(bytes, out.promised, out.committed, out.copies))
      return err;
  }
  if (out.current.empty())
    out.current = out.copies;
  if (out.copies.empty())
    return fail(errc::unavailable, "stored replication state names no copy");
  return out;
}

caf::expected<state> saved_state(const storage::log_store& db, const api::room_id& room) {
  auto bytes = db.log_state(room);
  if (!bytes)
    return bytes.error();
  return decode_state(*bytes);
}

caf::expected<loaded> load(storage::log_store db, const api::room_id& room, std::vector<std::string> copies) {
  state saved;
  saved.copies = std::move(copies);
  if (auto s = saved_state(db, room))
    saved = std::move(*s);
  else if (api::describe(s.error()).code != errc::not_found)
    return s.error();
  auto disk = std::make_shared<rocks_log>(std::move(db), room, saved.copies);
  // Entries are 1..n without a gap, each under its own index.
  auto log = disk->read(0, SIZE_MAX);
  if (!log)
    return log.error();
  return loaded{
      rep::copy{std::move(disk), std::move(saved.promised), saved.committed, std::move(*log), std::move(saved.copies)}};
}

}  // namespace confab::actors::replica_log
