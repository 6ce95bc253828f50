#pragma once

// Sends text events to hubs: a hub on this node gets the shared buffer (no
// copy per receiver), a hub on another node a string, because a shared
// buffer does not cross nodes; the hub accepts both.

#include <vector>

#include <caf/actor.hpp>
#include <caf/local_actor.hpp>

#include "api/atoms.hpp"
#include "api/interfaces.hpp"
#include "api/messages.hpp"
#include "api/probe.hpp"

namespace confab::actors {

template <class Self, class Dest, class Atom, class... Ts>
void send_text(Self* self, const Dest& dest, Atom atom, const api::shared_text& text, const Ts&... xs) {
  if (dest.node() == self->node())
    api::tell(self, dest, atom, xs..., text);
  else
    api::tell(self, dest, atom, xs..., *text);
}

// An event for every session of `user`, wherever it is: to every node's hub.
template <class Self>
void to_user(Self* self, const std::vector<api::hub_actor>& hubs, const api::user_id& user,
             const api::shared_text& event) {
  for (auto& hub : hubs)
    send_text(self, hub, api::user_event_atom::value, event, user);
}

}  // namespace confab::actors
