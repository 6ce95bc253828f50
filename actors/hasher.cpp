#include "actors/hasher.hpp"

#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "actors/passwords.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

api::hasher_actor::behavior_type hasher_actor(api::hasher_actor::pointer, bool background) {
  // Runs on the hasher's own thread (detached). SCHED_IDLE (which needs no
  // privilege) runs it only on a core nothing else wants, so a login's check
  // and the HTTP threads preempt it at once.
  sched_param idle{};
  if (background && sched_setscheduler(static_cast<pid_t>(gettid()), SCHED_IDLE, &idle) != 0)
    spdlog::warn("registration hasher: could not lower its priority (errno {})", errno);
  return {
      [](api::hash_atom, const std::string& pw) -> caf::result<std::string> {
        if (auto h = passwords::hash(pw))
          return std::move(*h);
        return fail(errc::unavailable, "out of memory while hashing");
      },
      [](api::check_atom, const std::string& hash, const std::string& pw) { return passwords::check(hash, pw); },
  };
}

}  // namespace confab::actors
