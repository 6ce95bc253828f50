#include "gateway/find_file.hpp"

#include <algorithm>

#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "wire/codec.hpp"

namespace confab::gateway {

namespace detail {

file_search plan_search(const cluster::placement& place, const std::string& id) {
  file_search s;
  auto home = place.file_home(id);
  if (home) {
    s.home = std::move(home);
    return s;
  }
  // The home is down or gone: a copy may have it, this node's first.
  s.none = place.file_home_down(id)
               ? api::fail(api::errc::unavailable, "the node that stores this file is down; try again")
               : api::fail(api::errc::not_found, "no such file");
  s.peers = std::make_shared<std::vector<cluster::member_card>>();
  for (auto& m : place.file_peers(id)) {
    if (m.readers != place.reader())
      s.peers->push_back(m);
    else
      s.peers->insert(s.peers->begin(), m);  // asked like the others, first
  }
  return s;
}

caf::expected<api::send_request> with_attachment(api::send_request req, caf::expected<api::file_info> f) {
  if (!f && api::describe(f.error()).code == api::errc::unavailable)
    return f.error();
  if (!f || f->room != req.room)
    return api::fail(api::errc::invalid_request, "file_id names no file of this room");
  req.attachment = wire::attachment_json(*f).dump();
  req.encrypted_file = f->encrypted;
  return req;
}

}  // namespace detail

}  // namespace confab::gateway
