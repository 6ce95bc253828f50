#include "actors/files.hpp"

#include "actors/file_names.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "wire/codec.hpp"

namespace confab::actors::files {

namespace {

constexpr auto info_timeout = std::chrono::seconds(10);

// Asks peers[i..] in turn for the record; `none` is the answer when no one has it.
void ask_copies(caf::event_based_actor* self, std::shared_ptr<std::vector<cluster::member_card>> peers, std::size_t i,
                std::string id, caf::error none, found_file done) {
  if (i == peers->size())
    return done(std::move(none), {});
  auto from = (*peers)[i].readers;
  self->request(from, info_timeout, api::info_atom::value, id)
      .then([done, from](api::file_info& f) { done(std::move(f), from); },
            [=](caf::error&) { ask_copies(self, peers, i + 1, id, none, done); });
}

}  // namespace

void find_file(caf::event_based_actor* self, const cluster::placement& place, const storage::store& db,
               const std::string& id, found_file done) {
  auto home = place.file_home(id);
  if (home == place.reader())
    return done(db.files().file(id), {});
  if (home) {
    self->request(home, info_timeout, api::info_atom::value, id)
        .then([done, home](api::file_info& f) { done(std::move(f), home); },
              [done](caf::error& err) { done(err, {}); });
    return;
  }
  // The home is down or gone: a copy may have it, this node's first.
  auto none = place.file_home_down(id)
                  ? api::fail(api::errc::unavailable, "the node that stores this file is down; try again")
                  : api::fail(api::errc::not_found, "no such file");
  auto peers = std::make_shared<std::vector<cluster::member_card>>();
  for (auto& m : place.file_peers(id)) {
    if (m.readers != place.reader())
      peers->push_back(m);
    else if (auto f = db.files().file(id))
      return done(std::move(*f), {});
  }
  ask_copies(self, std::move(peers), 0, id, std::move(none), std::move(done));
}

void queue_thumbnail(const node_context& ctx, const api::file_info& f) {
  constexpr std::size_t max_waiting = 64;
  if (!ctx.thumbnailer || !is_image(f.content_type))
    return;
  auto& waiting = *ctx.thumbnails_waiting;
  if (waiting.fetch_add(1) < max_waiting)
    caf::anon_send(ctx.thumbnailer, api::thumb_atom::value, f.id);
  else
    waiting.fetch_sub(1);
}

void attach_file(caf::event_based_actor* self, const cluster::placement& place, const storage::store& db,
                 api::send_request req, std::function<void(caf::expected<api::send_request>)> next) {
  if (req.file_id.empty())
    return next(std::move(req));
  auto id = req.file_id;
  find_file(self, place, db, id,
            [req = std::move(req), next = std::move(next)](caf::expected<api::file_info> f, caf::actor) mutable {
              if (!f && api::describe(f.error()).code == api::errc::unavailable)
                return next(f.error());
              if (!f || f->room != req.room)
                return next(api::fail(api::errc::invalid_request, "file_id names no file of this room"));
              req.attachment = wire::attachment_json(*f).dump();
              next(std::move(req));
            });
}

}  // namespace confab::actors::files
