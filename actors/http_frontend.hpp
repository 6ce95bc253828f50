#pragma once

// HTTP frontend: one per node. Accepts every HTTP API call that net/ parsed,
// authenticates it, and forwards it to the owner of the id it names (through
// placement); answers through the call's responder. Never blocks: every step
// is an asynchronous request.

#include <unordered_map>

#include <caf/stateful_actor.hpp>

#include "actors/account.hpp"
#include "actors/context.hpp"
#include "actors/probe.hpp"
#include "actors/token_bucket.hpp"

namespace confab::actors {

struct http_frontend_state {
  static inline const char* name = "confab.http_frontend";
  context_ptr ctx;
  // HTTP sends are rate-limited per user like a session's requests.
  std::unordered_map<api::user_id, token_bucket> send_buckets;
  // Registrations per client address (--register-per-min).
  attempt_window registrations;
  // Per user: rooms created, invites sent, direct rooms opened.
  attempt_window room_creations;
  attempt_window invites;
  attempt_window dms;
};

caf::behavior http_frontend(probed<http_frontend_state>* self, context_ptr ctx);

}  // namespace confab::actors
