#pragma once

// Presence of many users at once, for the HTTP and admin frontends: one
// request to each node that owns some of them.

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/atoms.hpp"
#include "api/interfaces.hpp"
#include "cluster/placement.hpp"
#include "cluster/scatter.hpp"
#include "wire/events.hpp"

namespace confab::gateway {

// Asks the owners of the users' presence, one request per node, and calls
// `done` with {status, last_seen?} JSON per user in order ("offline" where a
// node did not answer).
// Self: the (typed) HTTP or admin frontend that asks.
template <class Self>
void query_presence(Self* self, const cluster::placement& place, std::vector<api::user_id> users,
                    std::function<void(const std::vector<std::string>&)> done) {
  auto out = std::make_shared<std::vector<std::string>>(users.size(), wire::presence_json("offline", 0));
  // One request per owner, with the users it answers for and their positions.
  std::vector<api::presence_service> owners;
  std::vector<std::pair<std::vector<std::size_t>, std::vector<api::user_id>>> asks;
  for (std::size_t i = 0; i < users.size(); ++i) {
    auto owner = place.presence(users[i]);
    auto k = static_cast<std::size_t>(std::find(owners.begin(), owners.end(), owner) - owners.begin());
    if (k == owners.size()) {
      owners.push_back(owner);
      asks.emplace_back();
    }
    asks[k].first.push_back(i);
    asks[k].second.push_back(users[i]);
  }
  cluster::scatter_each<std::vector<std::string>>(
      owners.size(),
      [&](std::size_t k) {
        return self->request(owners[k], std::chrono::seconds(5), api::get_atom::value, asks[k].second);
      },
      [out, asks](std::size_t k, caf::expected<std::vector<std::string>> presence) {
        auto& at = asks[k].first;
        for (std::size_t j = 0; presence && j < at.size() && j < presence->size(); ++j)
          (*out)[at[j]] = (*presence)[j];
      },
      [out, done] { done(*out); });
}

}  // namespace confab::gateway
