#pragma once

// Where a file is in the cluster: its record from its home node or a copy,
// the attachment a send that names it gets, and the thumbnail queue. Names
// and types are in file_names.hpp, ranges in byte_range.hpp, the bytes in
// file_chunks.hpp.

#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

#include "actors/context.hpp"
#include "api/messages.hpp"
#include "cluster/placement.hpp"
#include "storage/store.hpp"

namespace confab::actors::files {

// The record of file `id` and the reader pool of the node it came from
// (null: this node's store): from its home while that is live, else from
// the first other live node in the file's rendezvous order that has a copy
// (docs/REPLICATION.md, "Files"); unavailable when none has and the home is
// down. `done` runs in `self`.
using found_file = std::function<void(caf::expected<api::file_info>, caf::actor from)>;
void find_file(caf::event_based_actor* self, const cluster::placement& place, const storage::store& db,
               const std::string& id, found_file done);

// A send that names a file gets the file's attachment (the file must belong
// to the room); then `next` runs with it, or with the error.
void attach_file(caf::event_based_actor* self, const cluster::placement& place, const storage::store& db,
                 api::send_request req, std::function<void(caf::expected<api::send_request>)> next);

// Asks the thumbnailer (actors/thumbnailer.hpp) for the thumbnail of an image
// file; best effort: past 64 waiting images, none (the upload stands).
void queue_thumbnail(const node_context& ctx, const api::file_info& f);

}  // namespace confab::actors::files
