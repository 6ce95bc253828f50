#pragma once

// A stored file's bytes, one chunk at a time from the reader pool of the
// node that has it (this node's too: the HTTP frontend never reads the
// store), and the body source that streams a byte range of them to net/.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "api/interfaces.hpp"
#include "api/sinks.hpp"

namespace confab::gateway {

// Gets chunk `index` of a file and calls `done` with it, on any thread.
using chunk_done = std::function<void(caf::expected<std::string>)>;
using chunk_fetch = std::function<void(std::uint64_t index, chunk_done done)>;
// Chunks from the reader pool of a node that stores the file.
[[nodiscard]] chunk_fetch remote_chunks(api::reader_service readers, std::string file_id);

// Streams bytes [first, last] of a file, one chunk at a time.
[[nodiscard]] std::shared_ptr<api::body_source> chunk_source(chunk_fetch fetch, std::uint64_t first,
                                                             std::uint64_t last);

}  // namespace confab::gateway
