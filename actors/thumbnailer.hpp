#pragma once

// Thumbnailer: makes a thumbnail of a PNG, JPEG, GIF or WebP file of at most
// 40 megapixels once, on its own thread (spawned detached: libvips blocks),
// with the loader of the sniffed type only and untrusted loaders blocked.
// Uploads queue their images through queue_thumbnail, bounded.

#include <caf/event_based_actor.hpp>

#include "actors/context.hpp"
#include "storage/files.hpp"

namespace confab::actors {

api::thumbnailer_actor::behavior_type thumbnailer_actor(api::thumbnailer_actor::pointer self, context_ptr ctx,
                                                        storage::file_store file_db);

// Asks the node's thumbnailer for the thumbnail of an image file; best
// effort: past 64 waiting images, none (the upload stands).
void queue_thumbnail(const node_context& ctx, const api::file_info& f);

}  // namespace confab::actors
