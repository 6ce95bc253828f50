#include "actors/reader.hpp"

#include "actors/api/atoms.hpp"
#include "actors/api/errors.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

namespace {

// Room exists and `user` is a member (not just invited).
caf::error check_member(const storage::store& db, const api::room_id& room, const api::user_id& user) {
  auto info = db.room(room);
  if (!info)
    return info.error();
  auto members = db.members(room);
  if (!members)
    return members.error();
  auto it = members->find(user);
  if (it == members->end() || it->second == "invited")
    return fail(errc::not_member, "not a member of this room");
  return caf::none;
}

}  // namespace

caf::behavior reader_actor(caf::event_based_actor*, context_ptr ctx) {
  return {
      [ctx](api::history_atom, const api::history_request& req) -> caf::result<api::history_page> {
        if (auto err = check_member(*ctx->db, req.room, req.user))
          return err;
        auto page = ctx->db->history(req.room, req.has_before ? std::optional(req.before) : std::nullopt,
                                     req.has_after ? std::optional(req.after) : std::nullopt, req.limit);
        if (!page)
          return page.error();
        return std::move(*page);
      },
      [ctx](api::members_atom, const api::room_id& room,
            const api::user_id& asker) -> caf::result<std::vector<api::member_entry>> {
        if (auto err = check_member(*ctx->db, room, asker))
          return err;
        auto members = ctx->db->members(room);
        if (!members)
          return members.error();
        std::vector<api::member_entry> out;
        for (auto& [id, role] : *members) {
          if (role == "invited")
            continue;
          auto u = ctx->db->user(id);
          if (!u)
            return u.error();
          out.push_back({std::move(u->info), role});
        }
        return out;
      },
      [ctx](api::my_rooms_atom, const api::user_id& user) -> caf::result<std::vector<api::my_room>> {
        auto ids = ctx->db->rooms_of(user);
        if (!ids)
          return ids.error();
        std::vector<api::my_room> out;
        for (auto& id : *ids) {
          auto info = ctx->db->room(id);
          auto last = ctx->db->last_seq(id);
          auto read = ctx->db->last_read(user, id);
          if (!info || !last || !read)
            return fail(errc::unavailable, "storage read failed");
          api::user_id partner;
          if (info->kind == "dm") {
            auto members = ctx->db->members(id);
            if (!members)
              return members.error();
            for (auto& [member, role] : *members)
              if (member != user)
                partner = member;
          }
          out.push_back({std::move(*info), *last, *read, std::move(partner)});
        }
        return out;
      },
      [ctx](api::public_atom) -> caf::result<std::vector<api::room_info>> {
        auto rooms = ctx->db->public_rooms();
        if (!rooms)
          return rooms.error();
        return std::move(*rooms);
      },
  };
}

}  // namespace confab::actors
