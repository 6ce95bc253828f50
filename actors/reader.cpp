#include "actors/reader.hpp"

#include <algorithm>
#include <iterator>
#include <map>

#include <spdlog/spdlog.h>
#include <caf/response_promise.hpp>

#include "actors/thumbnailer.hpp"
#include "actors/upload.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "cluster/scatter.hpp"
#include "wire/events.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

namespace {

const api::room_id& room_of(const api::my_room& r) {
  return r.room.id;
}
const api::room_id& room_of(const api::room_info& r) {
  return r.id;
}

// Room exists and `user` is a member (not just invited).
caf::error check_member(const reader_stores& db, const api::room_id& room, const api::user_id& user) {
  auto info = db.rooms.room(room);
  if (!info)
    return info.error();
  auto role = db.rooms.role(room, user);
  if (!role)
    return role.error();
  if (role->empty() || *role == "invited")
    return fail(errc::not_member, "not a member of this room");
  return caf::none;
}

// The rooms of `user` held on this node. hub: a session's hub that gets the
// events of these rooms from now on; it is added before the last seqs are
// read, so every later event reaches it (see interest.hpp).
caf::result<std::vector<api::my_room>> local_rooms(const context_ptr& ctx, const reader_stores& stores,
                                                   const api::user_id& user, const caf::actor& hub) {
  auto ids = stores.rooms.rooms_of(user);
  if (!ids)
    return ids.error();
  if (hub)
    for (auto& id : *ids)
      ctx->interest->add(id, caf::actor_cast<api::hub_actor>(hub));
  std::vector<api::my_room> out;
  for (auto& id : *ids) {
    auto info = stores.rooms.room(id);
    auto last = stores.log.last_seq(id);
    auto read = stores.log.last_read(user, id);
    if (!info || !last || !read)
      return fail(errc::unavailable, "storage read failed");
    api::user_id partner;
    if (info->kind == "dm") {
      auto members = stores.rooms.members(id);
      if (!members)
        return members.error();
      for (auto& [member, role] : *members)
        if (member != user)
          partner = member;
    }
    out.push_back({std::move(*info), *last, *read, std::move(partner)});
  }
  return out;
}

// Two nodes' entries for one room (replicated rooms are in the store of
// each copy; a follower may lag): the newest counts.
void merge(api::room_info&, const api::room_info&) {}
void merge(api::my_room& kept, const api::my_room& other) {
  kept.last_seq = std::max(kept.last_seq, other.last_seq);
  kept.last_read = std::max(kept.last_read, other.last_read);
}

// Asks the readers of every live node with `args`, and answers with the
// first `limit` of all the lists they sent, sorted by room id, each room once.
// A node that does not answer in time is left out (its rooms are unavailable
// until it is back, unless another node holds a copy).
template <class T, class... Ts>
caf::response_promise gather_all(reader_self* self, const context_ptr& ctx, std::size_t limit, Ts... args) {
  auto rp = self->make_response_promise();
  auto out = std::make_shared<std::vector<T>>();
  std::vector<api::reader_service> readers;
  for (auto& m : ctx->place->current()->live)
    readers.push_back(m.readers);
  cluster::scatter<std::vector<T>>(
      self, readers, std::chrono::seconds(5),
      [out](std::size_t, caf::expected<std::vector<T>> part) {
        if (part)
          std::move(part->begin(), part->end(), std::back_inserter(*out));
      },
      [out, rp, limit]() mutable {
        std::sort(out->begin(), out->end(), [](const T& a, const T& b) { return room_of(a) < room_of(b); });
        std::vector<T> once;
        for (auto& x : *out) {
          if (!once.empty() && room_of(once.back()) == room_of(x))
            merge(once.back(), x);
          else
            once.push_back(std::move(x));
        }
        if (once.size() > limit)
          once.resize(limit);
        rp.deliver(std::move(once));
      },
      args..., true);
  return rp;
}

// This node's hits for a search: in the caller's rooms held here whose
// owner this node is (a room's other copies stay silent), never encrypted
// ones, each message as stored now, up to limit + 1.
caf::result<std::vector<api::search_result>> local_search(const context_ptr& ctx, const reader_stores& stores,
                                                          const api::search_request& req) {
  auto ids = stores.rooms.rooms_of(req.user);
  if (!ids)
    return ids.error();
  std::vector<api::room_id> rooms;
  std::map<api::room_id, std::string> names;
  for (auto& id : *ids) {
    if ((!req.room.value.empty() && id != req.room) || !ctx->place->owns_room(id))
      continue;
    auto info = stores.rooms.room(id);
    if (!info || info->encrypted)
      continue;
    rooms.push_back(id);
    names[id] = info->name;
  }
  std::vector<api::search_result> out;
  if (rooms.empty()) {
    // The query is checked all the same: a bad one is refused everywhere.
    auto none = stores.log.search(req.q, {}, req.before, 0);
    if (!none)
      return none.error();
    return out;
  }
  auto hits = stores.log.search(req.q, rooms, req.before, req.limit + 1);
  if (!hits)
    return hits.error();
  for (auto& h : *hits) {
    auto text = stores.log.message(h.room, h.seq);
    if (!text || text->find(R"("deleted":true)") != std::string::npos)
      continue;  // gone or deleted since it was indexed
    out.push_back({h.room, h.seq, std::move(h.key), wire::client_message(std::move(*text)), names[h.room]});
  }
  return out;
}

}  // namespace

api::reader_service::behavior_type reader_actor(reader_self* self, context_ptr ctx, reader_stores given) {
  // Shared by the handlers; a store is thread-safe.
  auto stores = std::make_shared<reader_stores>(std::move(given));
  self->probe_as(ctx->actors, "reader", "reader/" + std::to_string(self->id()));
  return {
      [stores](api::history_atom, const api::history_request& req) -> caf::result<api::history_page> {
        if (auto err = check_member(*stores, req.room, req.user))
          return err;
        auto page = stores->log.history(req.room, req.has_before ? std::optional(req.before) : std::nullopt,
                                        req.has_after ? std::optional(req.after) : std::nullopt, req.limit);
        if (!page)
          return page.error();
        return std::move(*page);
      },
      // The thread under message `seq` (a reply's: its root's), from the
      // seqs its root keeps: after req.after, up to req.limit.
      [stores](api::thread_atom, const api::history_request& req,
               api::seq_t seq) -> caf::result<std::string, api::history_page> {
        if (auto err = check_member(*stores, req.room, req.user))
          return err;
        auto root = stores->log.message(req.room, seq);
        if (root) {
          if (auto up = wire::thread_of(*root); up != 0)
            root = stores->log.message(req.room, up);
        }
        if (!root)
          return root.error();
        api::history_page page;
        for (auto reply : wire::thread_replies(*root)) {
          if (req.has_after && reply <= req.after)
            continue;
          if (page.messages.size() == req.limit) {
            page.has_more = true;
            break;
          }
          auto text = stores->log.message(req.room, reply);
          if (!text)
            return text.error();
          page.messages.push_back(std::move(*text));
        }
        return {std::move(*root), std::move(page)};
      },
      // The membership check alone (file routes): one key read.
      [stores](api::members_atom, const api::room_id& room, const api::user_id& asker,
               bool) -> caf::result<std::vector<api::member_entry>> {
        if (auto err = check_member(*stores, room, asker))
          return err;
        return std::vector<api::member_entry>{};
      },
      [stores](api::members_atom, const api::room_id& room,
               const api::user_id& asker) -> caf::result<std::vector<api::member_entry>> {
        if (auto err = check_member(*stores, room, asker))
          return err;
        auto members = stores->rooms.members(room);
        if (!members)
          return members.error();
        std::vector<api::member_entry> out;
        for (auto& [id, role] : *members) {
          if (role == "invited")
            continue;
          auto u = stores->users.user(id);
          if (!u)
            return u.error();
          out.push_back({std::move(u->info), role});
        }
        return out;
      },
      [=](api::my_rooms_atom a, const api::user_id& user,
          const caf::actor& hub) -> caf::result<std::vector<api::my_room>> {
        return gather_all<api::my_room>(self, ctx, SIZE_MAX, a, user, hub);
      },
      [ctx, stores](api::my_rooms_atom, const api::user_id& user, const caf::actor& hub, bool) {
        return local_rooms(ctx, *stores, user, hub);
      },
      // A search of every node: their hits newest first, each message once
      // (a room changing owner may answer from two), up to limit + 1 (the
      // caller tells whether there is a next page).
      [=](api::search_atom a, const api::search_request& req) -> caf::result<std::vector<api::search_result>> {
        auto rp = self->make_response_promise<std::vector<api::search_result>>();
        auto out = std::make_shared<std::vector<api::search_result>>();
        auto refused = std::make_shared<caf::error>();
        // No node answered (search off everywhere, or all down): its error.
        auto answered = std::make_shared<bool>(false);
        auto failure = std::make_shared<caf::error>();
        std::vector<api::reader_service> readers;
        for (auto& m : ctx->place->current()->live)
          readers.push_back(m.readers);
        cluster::scatter<std::vector<api::search_result>>(
            self, readers, std::chrono::seconds(5),
            [out, refused, answered, failure](std::size_t, caf::expected<std::vector<api::search_result>> part) {
              if (part) {
                *answered = true;
                std::move(part->begin(), part->end(), std::back_inserter(*out));
              } else if (api::describe(part.error()).code == errc::invalid_request) {
                *refused = part.error();
              } else {
                *failure = part.error();
              }
            },
            [out, refused, answered, failure, rp, limit = req.limit]() mutable {
              if (*refused || !*answered) {
                rp.deliver(*refused ? *refused : *failure);
                return;
              }
              std::sort(out->begin(), out->end(), [](auto& x, auto& y) { return x.key > y.key; });
              out->erase(std::unique(out->begin(), out->end(),
                                     [](auto& x, auto& y) { return x.room == y.room && x.seq == y.seq; }),
                         out->end());
              if (out->size() > limit + 1)
                out->resize(limit + 1);
              rp.deliver(std::move(*out));
            },
            a, req, true);
        return rp;
      },
      // On a thread of its own: the index may be busy (its indexer holds it
      // at a low priority), and the scheduler's threads must not wait.
      [=](api::search_atom a, const api::search_request& req, bool) -> caf::result<std::vector<api::search_result>> {
        auto searcher = self->spawn<caf::detached>([ctx, stores](caf::event_based_actor* s) -> caf::behavior {
          return {[=](api::search_atom, const api::search_request& r) -> caf::result<std::vector<api::search_result>> {
            s->quit();
            return local_search(ctx, *stores, r);
          }};
        });
        auto rp = self->make_response_promise<std::vector<api::search_result>>();
        self->request(searcher, std::chrono::seconds(10), a, req)
            .then([rp](std::vector<api::search_result>& hits) mutable { rp.deliver(std::move(hits)); },
                  [rp](caf::error& err) mutable { rp.deliver(err); });
        return rp;
      },
      // A page of the directory: every node's first `limit` after `after`,
      // merged, is the cluster's first `limit`.
      [=](api::public_atom a, const std::string& after,
          std::uint32_t limit) -> caf::result<std::vector<api::room_info>> {
        return gather_all<api::room_info>(self, ctx, limit, a, after, limit);
      },
      // Admin view: this node's actors, a user's sessions here, a kick.
      [ctx](api::actors_atom, const api::actor_query& q) { return api::list_actors(*ctx->actors, ctx->node_id, q); },
      [ctx](api::sessions_atom, const api::user_id& user) {
        return api::sessions_of(*ctx->actors, ctx->node_id, user.value);
      },
      [=](api::kick_atom, const std::string& session) {
        auto p = ctx->actors->find("session", session);
        auto target = p ? caf::actor_cast<caf::actor>(p->addr) : caf::actor{};
        if (target)
          api::tell(self, target, api::kick_atom::value);
        return static_cast<bool>(target);
      },
      // Files stored on this node, for other nodes (see placement::file_home).
      [stores](api::info_atom, const std::string& file_id) -> caf::result<api::file_info> {
        auto f = stores->files.file(file_id);
        if (!f)
          return f.error();
        return std::move(*f);
      },
      [stores](api::chunk_atom, const std::string& file_id, std::uint64_t index) -> caf::result<std::string> {
        auto c = stores->files.chunk(file_id, index);
        if (!c)
          return c.error();
        return std::move(*c);
      },
      // A copy of a file another node takes (actors/upload.hpp): its chunks,
      // then its record (stored without usage: that counts on the home).
      [stores](api::chunk_atom, const std::string& file_id, std::uint64_t index,
               const std::string& bytes) -> caf::result<bool> {
        if (auto err = stores->files.put_chunk(file_id, index, bytes))
          return err;
        return true;
      },
      [ctx, stores](api::finish_atom, const api::file_info& f) -> caf::result<bool> {
        if (auto err = stores->files.put_file(f, false))
          return err;
        queue_thumbnail(*ctx, f);
        return true;
      },
      [ctx, stores](api::delete_atom, const std::string& file_id) {
        // The upload's node counted it in its owner's usage (actors/upload.hpp).
        auto home = file_id.starts_with(ctx->place->file_prefix());
        if (auto err = stores->files.drop_file(file_id, home))
          spdlog::warn("reader: file {} of a deleted message not dropped: {}", file_id, api::describe(err).message);
      },
      [stores](api::thumb_atom, const std::string& file_id) -> caf::result<std::string> {
        auto t = stores->files.thumbnail(file_id);
        if (!t)
          return t.error();
        return std::move(*t);
      },
      // An upload to this node (upload.hpp): the owner's quota is counted
      // here, and the actor writes next to this store.
      [=](api::upload_atom, api::file_info& draft, std::string& declared_type, bool has_length,
          std::uint64_t length) -> caf::result<caf::actor> {
        auto used = stores->files.usage(draft.owner);
        if (!used)
          return used.error();
        auto quota = ctx->lim.user_quota;
        auto left = *used >= quota ? 0 : quota - *used;
        if (has_length && length > left)
          return fail(errc::quota_exceeded, "file storage quota exceeded");
        return self->spawn(upload_actor, ctx, stores->files, std::move(draft), std::move(declared_type), left);
      },
      [stores](api::public_atom, const std::string& after, std::uint32_t limit,
               bool) -> caf::result<std::vector<api::room_info>> {
        auto rooms = stores->rooms.public_rooms(after, limit);
        if (!rooms)
          return rooms.error();
        return std::move(*rooms);
      },
  };
}

}  // namespace confab::actors
