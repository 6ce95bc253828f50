#include "actors/context.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "api/hex.hpp"

namespace confab::actors {

void log_stray_errors(caf::scheduled_actor* self, const char* who) {
  self->set_error_handler([self, who = std::string(who)](caf::error& err) {
    auto from = self->current_sender();
    spdlog::warn("{}: dropped an error nobody asked for: {} (from actor {})", who, caf::to_string(err),
                 from ? std::to_string(from->id()) : std::string("?"));
  });
}

std::string random_id(const char* prefix) {
  unsigned char bytes[8];
  randombytes_buf(bytes, sizeof(bytes));
  return prefix + api::to_hex(bytes, sizeof(bytes));
}

}  // namespace confab::actors
