#pragma once

// A stored file's bytes, one chunk at a time: from this node's store or from
// the reader pool of the node that has it, and the body source that streams
// a byte range of them to net/.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "api/interfaces.hpp"
#include "api/sinks.hpp"
#include "storage/files.hpp"

namespace confab::actors::files {

// Gets chunk `index` of a file and calls `done` with it, on any thread.
using chunk_done = std::function<void(caf::expected<std::string>)>;
using chunk_fetch = std::function<void(std::uint64_t index, chunk_done done)>;
// Chunks from this node's store, or from the reader pool of the node that
// stores the file.
[[nodiscard]] chunk_fetch local_chunks(storage::file_store db, std::string file_id);
[[nodiscard]] chunk_fetch remote_chunks(api::reader_service readers, std::string file_id);

// Chunks from `from` as find_file gave it.
[[nodiscard]] chunk_fetch chunks_from(const api::reader_service& from, storage::file_store db, std::string file_id);

// Streams bytes [first, last] of a file, one chunk at a time.
[[nodiscard]] std::shared_ptr<api::body_source> chunk_source(chunk_fetch fetch, std::uint64_t first,
                                                             std::uint64_t last);

}  // namespace confab::actors::files
