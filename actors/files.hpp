#pragma once

// Plain helpers for files: names, types, dispositions, ranges, and the
// source that streams a stored file's bytes to net/.

#include <memory>
#include <optional>
#include <string>

#include <functional>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

#include "actors/context.hpp"
#include "api/sinks.hpp"
#include "cluster/placement.hpp"
#include "storage/store.hpp"

namespace confab::actors::files {

// Path separators, control characters and quotes become '_'; at most 255
// bytes, cut on a UTF-8 boundary. Empty when nothing usable is left.
[[nodiscard]] std::string sanitize_name(const std::string& name);

// The type the bytes show (libmagic), falling back to a declared harmless
// text type only where libmagic sees plain text.
[[nodiscard]] std::string sniff(const std::string& head, const std::string& declared);

[[nodiscard]] bool is_image(const std::string& content_type);
// inline or attachment, with filename and filename*.
[[nodiscard]] std::string disposition(const std::string& content_type, const std::string& name);

// One byte range of a file of `size` bytes, from a Range header.
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
enum class range_kind { whole, partial, unsatisfiable };
[[nodiscard]] range_kind parse_range(const std::string& header, std::uint64_t size, byte_range& out);

// Gets chunk `index` of a file and calls `done` with it, on any thread.
using chunk_done = std::function<void(caf::expected<std::string>)>;
using chunk_fetch = std::function<void(std::uint64_t index, chunk_done done)>;
// Chunks from this node's store, or from the reader pool of the node that
// stores the file.
[[nodiscard]] chunk_fetch local_chunks(std::shared_ptr<storage::store> db, std::string file_id);
[[nodiscard]] chunk_fetch remote_chunks(caf::actor readers, std::string file_id);

// The record of file `id` and the reader pool of the node it came from
// (null: this node's store): from its home while that is live, else from
// the first other live node in the file's rendezvous order that has a copy
// (docs/REPLICATION.md, "Files"); unavailable when none has and the home is
// down. `done` runs in `self`.
using found_file = std::function<void(caf::expected<api::file_info>, caf::actor from)>;
void find_file(caf::event_based_actor* self, const cluster::placement& place, const storage::store& db,
               const std::string& id, found_file done);

// Chunks from `from` as find_file gave it.
[[nodiscard]] chunk_fetch chunks_from(const caf::actor& from, std::shared_ptr<storage::store> db, std::string file_id);

// A send that names a file gets the file's attachment (the file must belong
// to the room); then `next` runs with it, or with the error.
void attach_file(caf::event_based_actor* self, const cluster::placement& place, const storage::store& db,
                 api::send_request req, std::function<void(caf::expected<api::send_request>)> next);

// Asks the thumbnailer (actors/upload.hpp) for the thumbnail of an image
// file; best effort: past 64 waiting images, none (the upload stands).
void queue_thumbnail(const node_context& ctx, const api::file_info& f);

// Streams bytes [first, last] of a file, one chunk at a time.
[[nodiscard]] std::shared_ptr<api::body_source> chunk_source(chunk_fetch fetch, std::uint64_t first,
                                                             std::uint64_t last);

}  // namespace confab::actors::files
