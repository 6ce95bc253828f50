#pragma once

// Hasher: Argon2id hashing and checking of passwords (actors/passwords.hpp),
// one request at a time; each blocks its thread for tens of ms, so every
// hasher is spawned detached, and the account actor queues work for the idle
// ones (account.hpp). With `background` (registrations), its thread runs
// under SCHED_IDLE, only on a core nothing else wants.

#include "api/interfaces.hpp"

namespace confab::actors {

api::hasher_actor::behavior_type hasher_actor(api::hasher_actor::pointer self, bool background);

}  // namespace confab::actors
