#pragma once

// The live virtual actors of one kind on a node (rooms, presences), by id,
// with how many messages the manager delegated to each. Owned by that kind's
// manager actor. An actor that reports idle with a handled count equal to
// what was delegated has nothing in flight to it, so it can retire without
// losing a message; the next request activates a new one from storage.

#include <cstdint>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/system_messages.hpp>

namespace confab::actors {

struct no_extra {};

// Handle: the actors' handle type (typed, api/interfaces.hpp); Extra: what
// the manager keeps per live actor besides the handle.
template <class Id, class Handle, class Extra = no_extra>
class directory {
 public:
  struct entry : Extra {
    Handle actor;
    std::uint64_t delegated = 0;
  };

  // The entry of `id`, after spawn(entry&) made its actor if there was none;
  // counts one delegation.
  template <class Spawn>
  entry& route(const Id& id, Spawn spawn) {
    auto& e = live_[id];
    if (!e.actor)
      spawn(e);
    ++e.delegated;
    return e;
  }

  // The actor of `id`, removed from the directory, if it handled everything
  // delegated to it; null otherwise (more work reached it: it stays).
  [[nodiscard]] Handle take_idle(const Id& id, std::uint64_t handled) {
    auto it = live_.find(id);
    if (it == live_.end() || it->second.delegated != handled)
      return {};
    auto actor = std::move(it->second.actor);
    live_.erase(it);
    return actor;
  }

  // An actor of ours ended (retired or failed): drop it and return true.
  // An exit from anything else returns false.
  bool forget(const caf::actor_addr& source) {
    for (auto it = live_.begin(); it != live_.end(); ++it)
      if (it->second.actor.address() == source) {
        live_.erase(it);
        return true;
      }
    return false;
  }

  // The actor of `id`, removed from the directory whatever it still has to do.
  [[nodiscard]] Handle take(const Id& id) {
    auto it = live_.find(id);
    if (it == live_.end())
      return {};
    auto actor = std::move(it->second.actor);
    live_.erase(it);
    return actor;
  }
  [[nodiscard]] std::vector<Id> ids() const {
    std::vector<Id> out;
    out.reserve(live_.size());
    for (auto& [id, e] : live_)
      out.push_back(id);
    return out;
  }

  [[nodiscard]] entry* find(const Id& id) {
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : &it->second;
  }
  [[nodiscard]] std::size_t size() const { return live_.size(); }

 private:
  std::unordered_map<Id, entry> live_;
};

// The exit handler of a manager whose actors are linked to it: their ends
// are forgotten, any other non-normal exit stops the manager.
template <class Self, class Directory>
void forget_or_quit(Self* self, Directory& dir, caf::exit_msg& msg) {
  if (!dir.forget(msg.source) && msg.reason)
    self->quit(msg.reason);
}

}  // namespace confab::actors
