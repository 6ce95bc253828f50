#pragma once

// Passivation of idle actors without a behavior timeout: `caf::after` re-arms
// CAF's clock on every message handled, each time a wake-up of the clock
// thread (two per chat message between room and presence). Instead an actor
// ticks once per idle period and reports itself idle when it handled nothing
// since the previous tick, so it is passivated after one to two periods.

#include <chrono>
#include <cstdint>

#include "api/atoms.hpp"

namespace confab::actors {

template <class Self>
void start_idle_ticks(Self* self, std::chrono::milliseconds period) {
  self->delayed_send(self, period, api::tick_atom::value);
}

// On each tick: `report` runs when `handled` has not moved since the last one.
template <class Self, class Report>
void idle_tick(Self* self, std::chrono::milliseconds period, std::uint64_t handled, std::uint64_t& at_last_tick,
               Report report) {
  if (handled == at_last_tick)
    report();
  at_last_tick = handled;
  self->delayed_send(self, period, api::tick_atom::value);
}

}  // namespace confab::actors
