#pragma once

// Where a file is in the cluster: its record from its home node or a copy,
// and the attachment a send that names it gets. Names are in
// file_names.hpp, ranges in byte_range.hpp, the bytes in file_chunks.hpp.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "api/atoms.hpp"
#include "api/messages.hpp"
#include "cluster/placement.hpp"

namespace confab::gateway {

// The record of file `id` and the reader pool of the node it came from
// (null: from `db`, this node's store; with no `db` this node's reader pool
// is asked like any other node's): from its home while that is live, else from
// the first other live node in the file's rendezvous order that has a copy
// (docs/REPLICATION.md, "Files"); unavailable when none has and the home is
// down. `done` runs in `self` (any actor that can make requests: a template
// for the typed ones, defined below).
using found_file = std::function<void(caf::expected<api::file_info>, api::reader_service from)>;
template <class Self>
void find_file(Self* self, const cluster::placement& place, const std::string& id, found_file done);

// A send that names a file gets the file's attachment (the file must belong
// to the room); then `next` runs with it, or with the error.
template <class Self>
void attach_file(Self* self, const cluster::placement& place, api::send_request req,
                 std::function<void(caf::expected<api::send_request>)> next);

namespace detail {

inline constexpr auto info_timeout = std::chrono::seconds(10);

// Asks peers[i..] in turn for the record; `none` is the answer when no one has it.
template <class Self>
void ask_copies(Self* self, std::shared_ptr<std::vector<cluster::member_card>> peers, std::size_t i, std::string id,
                caf::error none, found_file done) {
  if (i == peers->size())
    return done(std::move(none), {});
  auto from = (*peers)[i].readers;
  self->request(from, info_timeout, api::info_atom::value, id)
      .then([done, from](api::file_info& f) { done(std::move(f), from); },
            [=](caf::error&) { ask_copies(self, peers, i + 1, id, none, done); });
}

// Where find_file looks: the home's reader pool (this node's too), or
// (null) the copies in `peers`, with `none` as the answer when no one has it.
struct file_search {
  api::reader_service home;
  std::shared_ptr<std::vector<cluster::member_card>> peers;
  caf::error none;
};
file_search plan_search(const cluster::placement& place, const std::string& id);

// The request with `f`'s attachment, or why `f` cannot be attached to it.
caf::expected<api::send_request> with_attachment(api::send_request req, caf::expected<api::file_info> f);

}  // namespace detail

template <class Self>
void find_file(Self* self, const cluster::placement& place, const std::string& id, found_file done) {
  auto search = detail::plan_search(place, id);
  if (auto home = search.home) {
    self->request(home, detail::info_timeout, api::info_atom::value, id)
        .then([done, home](api::file_info& f) { done(std::move(f), home); },
              [done](caf::error& err) { done(err, {}); });
    return;
  }
  detail::ask_copies(self, std::move(search.peers), 0, id, std::move(search.none), std::move(done));
}

template <class Self>
void attach_file(Self* self, const cluster::placement& place, api::send_request req,
                 std::function<void(caf::expected<api::send_request>)> next) {
  if (req.file_id.empty())
    return next(std::move(req));
  auto id = req.file_id;
  find_file(
      self, place, id,
      [req = std::move(req), next = std::move(next)](caf::expected<api::file_info> f, api::reader_service) mutable {
        next(detail::with_attachment(std::move(req), std::move(f)));
      });
}

}  // namespace confab::gateway
