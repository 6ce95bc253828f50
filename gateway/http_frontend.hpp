#pragma once

// HTTP frontend: one per node. Accepts every HTTP API call that net/ parsed,
// authenticates it, and forwards it to the owner of the id it names (through
// placement); answers through the call's responder. Never blocks: every step
// is an asynchronous request.

#include <unordered_map>

#include <caf/stateful_actor.hpp>

#include "api/interfaces.hpp"
#include "api/probe.hpp"
#include "api/rate_limits.hpp"
#include "gateway/context.hpp"

namespace confab::gateway {

struct http_frontend_state {
  static inline const char* name = "confab.http_frontend";
  context_ptr ctx;
  // Takes /admin/ and /metrics (admin_frontend.hpp); linked.
  api::http_service admin;
  // HTTP sends are rate-limited per user like a session's requests.
  std::unordered_map<api::user_id, api::token_bucket> send_buckets;
  // Registrations per client address (--register-per-min).
  api::attempt_window registrations;
  // Per user: rooms created, invites sent, direct rooms opened.
  api::attempt_window room_creations;
  api::attempt_window invites;
  api::attempt_window dms;
};

using http_frontend_self = api::probed<http_frontend_state, api::http_service::base>;

api::http_service::behavior_type http_frontend(http_frontend_self* self, context_ptr ctx);

}  // namespace confab::gateway
