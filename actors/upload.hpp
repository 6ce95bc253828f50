#pragma once

// Upload actor: one per file upload, spawned by a reader of the node (at
// the HTTP frontend's request) once the upload is allowed. net/ streams the body to it one chunk at a time and
// reads the next chunk only after the ack, so memory stays at a few chunks
// whatever the file's size. Writes each chunk as it comes, hashes on the way,
// and on finish stores the file record (with the owner's usage) and answers
// the HTTP call. An abort, an error or silence drops what was written.
//
// With --replication N > 1 each chunk also goes to the file's other copies
// (the next N-1 live nodes in its rendezvous order), at most 4 unanswered
// chunks per copy before the next chunk is read; the record is stored on
// them, then here, and the upload is answered once a majority of N has it
// (docs/REPLICATION.md, "Files").

#include <openssl/evp.h>
#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "api/interfaces.hpp"
#include "api/sinks.hpp"
#include "storage/files.hpp"

namespace confab::actors {

struct upload_state {
  static inline const char* name = "confab.upload";

  context_ptr ctx;
  storage::file_store file_db;
  api::file_info file;
  std::string declared_type;
  std::uint64_t quota_left = 0;
  std::string head;  // the first bytes, for libmagic
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> sha{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  caf::error failure;  // set: the upload is refused; finish answers it
  // The file's other copies (their nodes' reader pools).
  struct copy_target {
    api::reader_service readers;
    std::size_t in_flight = 0;  // chunks sent, not answered yet
    bool failed = false;        // dropped from this upload
  };
  std::vector<copy_target> copies;
  std::size_t wanted = 1;        // N: copies of the file, this node's included
  api::chunk_ack_ptr held_ack;   // the next chunk waits for the copies
  api::responder_ptr finishing;  // the end waits for the copies' answers
  std::size_t stored = 0;        // copies that stored the record
  std::size_t answered = 0;      // copies that answered the record
};

caf::behavior upload_actor(caf::stateful_actor<upload_state>* self, context_ptr ctx, storage::file_store files,
                           api::file_info draft, std::string declared_type, std::uint64_t quota_left);

}  // namespace confab::actors
