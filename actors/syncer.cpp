#include "actors/syncer.hpp"

#include "actors/context.hpp"
#include "api/atoms.hpp"
#include "api/probe.hpp"

namespace confab::actors {

api::syncer_actor::behavior_type syncer_actor(api::syncer_actor::pointer self, std::shared_ptr<storage::database> db) {
  // Writes counted before the last fsync began: all durable.
  auto synced = std::make_shared<std::uint64_t>(0);
  api::log_stray_errors(self, "syncer");
  return {
      [=](api::fsync_atom, std::uint64_t ticket) -> caf::result<std::uint64_t> {
        if (ticket <= *synced)
          return *synced;
        auto covers = db->written();
        if (auto err = db->sync_wal())
          return err;
        *synced = covers;
        return covers;
      },
  };
}

}  // namespace confab::actors
