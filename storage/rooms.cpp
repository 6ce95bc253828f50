#include "storage/rooms.hpp"

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

caf::error room_store::put_room(const api::room_info& room,
                                const std::vector<std::pair<api::user_id, std::string>>& members) {
  rocksdb::WriteBatch batch;
  batch.Put(d_->rooms_, room.id.value, room_to_json(room));
  for (auto& [user, role] : members) {
    batch.Put(d_->members_, keys::pair(room.id.value, user.value), role);
    if (role != "invited")
      batch.Put(d_->user_rooms_, keys::pair(user.value, room.id.value), "");
  }
  return from_status(d_->write(batch));
}

caf::expected<api::room_info> room_store::room(const api::room_id& id) const {
  auto text = d_->get(d_->rooms_, id.value);
  if (!text)
    return text.error();
  return guarded([&]() -> caf::expected<api::room_info> { return room_from_json(*text); });
}

caf::expected<std::vector<api::room_info>> room_store::public_rooms(const std::string& after, std::size_t limit) const {
  return guarded([&]() -> caf::expected<std::vector<api::room_info>> {
    std::vector<api::room_info> out;
    std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->rooms_));
    it->Seek(after);
    if (it->Valid() && !after.empty() && it->key() == rocksdb::Slice(after))
      it->Next();
    for (; it->Valid() && out.size() < limit; it->Next()) {
      auto r = room_from_json(it->value().ToString());
      if (r.visibility == "public" && r.kind == "room")
        out.push_back(std::move(r));
    }
    if (auto err = from_status(it->status()))
      return err;
    return out;
  });
}

caf::expected<std::string> room_store::role(const api::room_id& room, const api::user_id& user) const {
  auto v = d_->get(d_->members_, keys::pair(room.value, user.value));
  if (!v && api::describe(v.error()).code == api::errc::not_found)
    return std::string();
  return v;
}

caf::expected<std::map<api::user_id, std::string>> room_store::members(const api::room_id& id) const {
  std::map<api::user_id, std::string> out;
  auto prefix = keys::room_prefix(id);
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->members_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.emplace(api::user_id{it->key().ToString().substr(prefix.size())}, it->value().ToString());
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

caf::error room_store::set_member(const api::room_id& room, const api::user_id& user, const std::string& role) {
  rocksdb::WriteBatch batch;
  batch.Put(d_->members_, keys::pair(room.value, user.value), role);
  if (role == "invited")
    batch.Delete(d_->user_rooms_, keys::pair(user.value, room.value));
  else
    batch.Put(d_->user_rooms_, keys::pair(user.value, room.value), "");
  return from_status(d_->write(batch));
}

caf::error room_store::remove_member(const api::room_id& room, const api::user_id& user) {
  rocksdb::WriteBatch batch;
  batch.Delete(d_->members_, keys::pair(room.value, user.value));
  batch.Delete(d_->user_rooms_, keys::pair(user.value, room.value));
  return from_status(d_->write(batch));
}

caf::expected<std::vector<api::room_id>> room_store::rooms_of(const api::user_id& user) const {
  std::vector<api::room_id> out;
  auto prefix = user.value + '\0';
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->user_rooms_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.emplace_back(it->key().ToString().substr(prefix.size()));
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

}  // namespace confab::storage
