#pragma once

// Registers every type that crosses nodes in a message. A type unknown to
// either side arrives as an empty message, silently, so all of them are here
// and both ends of every link run the same list.

#include <caf/actor_system_config.hpp>

namespace confab::actors {

void add_message_types(caf::actor_system_config& cfg);

}  // namespace confab::actors
