#include "storage/handoff.hpp"

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

namespace {

// Who sent a stored message and with which client_msg_id (empty: none): the
// key of its dedupe record.
std::pair<api::user_id, std::string> origin(const user_store& users, const json& j) {
  auto sender = users.user_id_of(j.value("from", ""));
  return {sender ? *sender : api::user_id{}, j.value("client_msg_id", "")};
}

}  // namespace

caf::error handoff_store::add_removed_node(const std::string& id) {
  return from_status(d_->put(d_->removed_, id, "", database::flush::always));
}

caf::expected<std::vector<std::string>> handoff_store::removed_nodes() const {
  return d_->keys_of(d_->removed_);
}

caf::expected<std::vector<api::room_id>> handoff_store::room_ids() const {
  return d_->room_keys_of(d_->rooms_);
}

caf::expected<api::room_piece> handoff_store::export_piece(const api::room_id& room, api::seq_t after_seq,
                                                           std::uint32_t limit) const {
  api::room_piece piece;
  piece.room = room;
  auto page = log_.history(room, std::nullopt, after_seq, limit);
  if (!page)
    return page.error();
  auto parsed = guarded([&]() -> caf::expected<bool> {
    for (auto& text : page->messages) {
      auto j = json::parse(text);
      piece.seqs.push_back(j.at("seq").get<api::seq_t>());
      auto [sender, cmid] = origin(users_, j);
      piece.senders.push_back(std::move(sender));
      piece.client_msg_ids.push_back(std::move(cmid));
    }
    return true;
  });
  if (!parsed)
    return parsed.error();
  piece.messages = std::move(page->messages);
  if (page->has_more)
    return piece;
  // The last piece: the room itself, its members and their read markers.
  auto info = rooms_.room(room);
  if (!info)
    return info.error();
  auto members = rooms_.members(room);
  if (!members)
    return members.error();
  piece.last = true;
  piece.info = std::move(*info);
  for (auto& [user, role] : *members) {
    auto read = log_.last_read(user, room);
    piece.members.push_back(user);
    piece.roles.push_back(role);
    piece.read_up_to.push_back(read ? *read : 0);
  }
  return piece;
}

caf::error handoff_store::import_piece(const api::room_piece& p) {
  if (p.seqs.size() != p.messages.size() || p.senders.size() != p.messages.size() ||
      p.client_msg_ids.size() != p.messages.size() || p.roles.size() != p.members.size() ||
      p.read_up_to.size() != p.members.size())
    return api::fail(errc::invalid_request, "malformed room piece");
  rocksdb::WriteBatch batch;
  for (std::size_t i = 0; i < p.messages.size(); ++i) {
    batch.Put(d_->messages_, keys::message(p.room, p.seqs[i]), p.messages[i]);
    if (!p.client_msg_ids[i].empty() && !p.senders[i].empty())
      batch.Put(d_->dedupe_, keys::dedupe(p.senders[i], p.room, p.client_msg_ids[i]), be64(p.seqs[i]));
  }
  if (p.last) {
    for (std::size_t i = 0; i < p.members.size(); ++i) {
      batch.Put(d_->members_, keys::pair(p.room.value, p.members[i].value), p.roles[i]);
      if (p.roles[i] != "invited")
        batch.Put(d_->user_rooms_, keys::pair(p.members[i].value, p.room.value), "");
      if (p.read_up_to[i] > 0)
        batch.Put(d_->reads_, keys::pair(p.members[i].value, p.room.value), be64(p.read_up_to[i]));
    }
    batch.Put(d_->rooms_, p.room.value, room_to_json(p.info));
  }
  // The last piece makes the room live here: on disk before the answer.
  if (auto err = from_status(d_->write(batch, p.last ? database::flush::always : database::flush::wal)))
    return err;
  if (d_->search_)
    for (auto& text : p.messages)
      d_->search_->queue(text);
  return caf::none;
}

caf::error handoff_store::set_moving(const api::room_id& room, const std::string& target) {
  return from_status(d_->put(d_->handoffs_, room.value, target, database::flush::always));
}

caf::expected<std::string> handoff_store::moving_to(const api::room_id& room) const {
  return d_->get(d_->handoffs_, room.value);
}

caf::error handoff_store::clear_moving(const api::room_id& room) {
  rocksdb::WriteBatch batch;
  batch.Delete(d_->handoffs_, room.value);
  return from_status(d_->write(batch, database::flush::always));
}

caf::error handoff_store::drop_room(const api::room_id& room, bool with_log) {
  auto members = rooms_.members(room);
  if (!members)
    return members.error();
  rocksdb::WriteBatch batch;
  // Dedupe records are keyed by sender: rebuild their keys from the log.
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->messages_));
  auto prefix = keys::room_prefix(room);
  auto parsed = guarded([&]() -> caf::expected<bool> {
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      auto [sender, cmid] = origin(users_, json::parse(it->value().ToStringView()));
      if (!cmid.empty() && !sender.empty())
        batch.Delete(d_->dedupe_, keys::dedupe(sender, room, cmid));
    }
    return true;
  });
  if (!parsed)
    return parsed.error();
  if (auto err = from_status(it->status()))
    return err;
  batch.DeleteRange(d_->messages_, keys::message(room, 0), keys::message(room, UINT64_MAX));
  batch.Delete(d_->messages_, keys::message(room, UINT64_MAX));
  for (auto& [user, role] : *members) {
    batch.Delete(d_->members_, keys::pair(room.value, user.value));
    batch.Delete(d_->user_rooms_, keys::pair(user.value, room.value));
    batch.Delete(d_->reads_, keys::pair(user.value, room.value));
  }
  batch.Delete(d_->rooms_, room.value);
  batch.Delete(d_->handoffs_, room.value);
  if (with_log) {
    batch.DeleteRange(d_->rlog_, keys::message(room, 0), keys::message(room, UINT64_MAX));
    batch.Delete(d_->rlog_, keys::message(room, UINT64_MAX));
    batch.Delete(d_->rlog_state_, room.value);
  }
  if (auto err = from_status(d_->write(batch)))
    return err;
  if (d_->search_)
    d_->search_->queue_drop(room);
  return caf::none;
}

}  // namespace confab::storage
