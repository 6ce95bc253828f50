#include "storage/room_log.hpp"

#include <algorithm>
#include <charconv>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace confab::storage {

using api::errc;
using nlohmann::json;

caf::error log_store::append(const append_entry& e) {
  rocksdb::WriteBatch batch;
  batch.Put(d_->messages_, keys::message(e.room, e.seq), e.message_json);
  if (!e.client_msg_id.empty())
    batch.Put(d_->dedupe_, keys::dedupe(e.from, e.room, e.client_msg_id), be64(e.seq));
  for (auto& [seq, text] : e.also)
    batch.Put(d_->messages_, keys::message(e.room, seq), text);
  // To the WAL: the record survives a crash of the process; the room waits
  // for a group commit before the ack under durability::fsync.
  if (auto err = from_status(d_->write(batch, database::flush::wal)))
    return err;
  if (d_->search_) {
    d_->search_->queue(e.message_json);
    for (auto& [seq, text] : e.also)
      d_->search_->queue(text);
  }
  return caf::none;
}

caf::expected<std::vector<search_hit>> log_store::search(const std::string& query,
                                                         const std::vector<api::room_id>& rooms,
                                                         const std::string& before, std::uint32_t limit) const {
  if (!d_->search_)
    return api::fail(errc::unavailable, "search is off on this node (--search false)");
  return d_->search_->search(query, rooms, before, limit);
}

caf::expected<api::seq_t> log_store::last_seq(const api::room_id& room) const {
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->messages_));
  auto prefix = keys::room_prefix(room);
  it->SeekForPrev(keys::message(room, UINT64_MAX));
  if (it->Valid() && it->key().starts_with(prefix))
    return keys::seq_of(it->key().ToStringView());
  if (auto err = from_status(it->status()))
    return err;
  return api::seq_t{0};
}

caf::error log_store::put_log(const api::room_id& room, std::uint64_t truncate_after, const log_entries& entries) {
  rocksdb::WriteBatch batch;
  if (truncate_after < UINT64_MAX) {
    batch.DeleteRange(d_->rlog_, keys::message(room, truncate_after + 1), keys::message(room, UINT64_MAX));
    batch.Delete(d_->rlog_, keys::message(room, UINT64_MAX));
  }
  for (auto& [index, bytes] : entries)
    batch.Put(d_->rlog_, keys::message(room, index), bytes);
  return from_status(d_->write(batch, database::flush::wal));
}

caf::expected<log_store::log_entries> log_store::log_range(const api::room_id& room, std::uint64_t after,
                                                           std::size_t max) const {
  log_entries out;
  if (after == UINT64_MAX)
    return out;
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->rlog_));
  auto prefix = keys::room_prefix(room);
  for (it->Seek(keys::message(room, after + 1)); it->Valid() && it->key().starts_with(prefix) && out.size() < max;
       it->Next())
    out.emplace_back(keys::seq_of(it->key().ToStringView()), it->value().ToString());
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

caf::error log_store::put_log_state(const api::room_id& room, std::string_view state) {
  return from_status(d_->put(d_->rlog_state_, room.value, state, database::flush::always));
}

caf::expected<std::string> log_store::log_state(const api::room_id& room) const {
  return d_->get(d_->rlog_state_, room.value);
}

caf::expected<std::vector<api::room_id>> log_store::log_rooms() const {
  return d_->room_keys_of(d_->rlog_state_);
}

caf::expected<std::string> log_store::message(const api::room_id& room, api::seq_t seq) const {
  return d_->get(d_->messages_, keys::message(room, seq));
}

caf::expected<api::seq_t> log_store::dedupe(const api::user_id& user, const api::room_id& room,
                                            const std::string& client_msg_id) const {
  auto v = d_->get(d_->dedupe_, keys::dedupe(user, room, client_msg_id));
  if (!v)
    return v.error();
  return keys::seq_of(*v);
}

caf::expected<api::history_page> log_store::history(const api::room_id& room, std::optional<api::seq_t> before,
                                                    std::optional<api::seq_t> after, std::uint32_t limit) const {
  api::history_page page;
  auto prefix = keys::room_prefix(room);
  rocksdb::ReadOptions ro;  // an iterator reads one consistent snapshot
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(ro, d_->messages_));
  auto in_range = [&](api::seq_t s) { return (!after || s > *after) && (!before || s < *before); };
  if (before && *before <= 1)
    return page;  // nothing is below seq 1
  if (after) {
    // Oldest first from `after`.
    for (it->Seek(keys::message(room, *after + 1)); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!in_range(keys::seq_of(it->key().ToStringView())))
        break;
      if (page.messages.size() == limit) {
        page.has_more = true;
        break;
      }
      page.messages.push_back(it->value().ToString());
    }
  } else {
    // The newest `limit` below `before`. Seqs have no gaps, so that is the
    // range [top - limit + 1, top]: one seek and forward steps (a memtable
    // steps back by searching its skip list again for every message).
    std::optional<api::seq_t> top;
    if (before) {
      top = *before - 1;
    } else {
      it->SeekForPrev(keys::message(room, UINT64_MAX));
      if (it->Valid() && it->key().starts_with(prefix))
        top = keys::seq_of(it->key().ToStringView());
    }
    if (top && *top >= limit) {
      // From one before the range: whether an older message exists.
      auto first = *top - limit + 1;
      bool older = false;
      it->Seek(keys::message(room, first > 1 ? first - 1 : first));
      if (first > 1 && it->Valid() && it->key().starts_with(prefix) &&
          keys::seq_of(it->key().ToStringView()) == first - 1) {
        older = true;
        it->Next();
      }
      for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
        if (keys::seq_of(it->key().ToStringView()) > *top)
          break;
        page.messages.push_back(it->value().ToString());
      }
      if (auto err = from_status(it->status()))
        return err;
      if (page.messages.size() == limit && (older || first == 1)) {
        page.has_more = older;
        return page;
      }
      page.messages.clear();  // a gap, which a room's log never has: step back instead
    }
    // Newest first below `before`, then reversed.
    it->SeekForPrev(keys::message(room, before ? *before - 1 : UINT64_MAX));
    for (; it->Valid() && it->key().starts_with(prefix); it->Prev()) {
      if (!in_range(keys::seq_of(it->key().ToStringView())))
        break;
      if (page.messages.size() == limit) {
        page.has_more = true;
        break;
      }
      page.messages.push_back(it->value().ToString());
    }
    std::reverse(page.messages.begin(), page.messages.end());
  }
  if (auto err = from_status(it->status()))
    return err;
  return page;
}

caf::expected<api::seq_t> log_store::last_read(const api::user_id& user, const api::room_id& room) const {
  auto v = d_->get(d_->reads_, keys::pair(user.value, room.value));
  if (!v) {
    if (api::describe(v.error()).code == errc::not_found)
      return api::seq_t{0};
    return v.error();
  }
  return keys::seq_of(*v);
}

caf::error log_store::set_last_read(const api::user_id& user, const api::room_id& room, api::seq_t seq) {
  return from_status(d_->put(d_->reads_, keys::pair(user.value, room.value), be64(seq), database::flush::wal));
}

}  // namespace confab::storage
