#pragma once

// Sends text events to hubs: a hub on this node gets the shared buffer (no
// copy per receiver), a hub on another node a string, because a shared
// buffer does not cross nodes; the hub accepts both.

#include <caf/actor.hpp>
#include <caf/local_actor.hpp>

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

}  // namespace confab::actors
