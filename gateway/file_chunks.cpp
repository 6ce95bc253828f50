#include "gateway/file_chunks.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "api/atoms.hpp"

namespace confab::gateway {

namespace {

// Bytes [first, last] of a file, one chunk at a time from `fetch`. Only one
// piece is asked for at a time (net waits for it), so pos_ needs no lock.
class chunk_reader : public api::body_source, public std::enable_shared_from_this<chunk_reader> {
 public:
  chunk_reader(chunk_fetch fetch, std::uint64_t first, std::uint64_t last)
      : fetch_(std::move(fetch)), pos_(first), end_(last + 1) {}

  void next(std::function<void(std::string)> done) override {
    if (pos_ >= end_)
      return done({});
    auto index = pos_ / api::file_info::chunk_size;
    fetch_(index, [this, self = shared_from_this(), done = std::move(done)](caf::expected<std::string> chunk) {
      auto offset = pos_ % api::file_info::chunk_size;
      if (!chunk || offset >= chunk->size()) {
        pos_ = end_;  // a missing chunk ends the body early; the client sees a short read
        return done({});
      }
      auto piece = chunk->substr(offset, std::min<std::uint64_t>(chunk->size() - offset, end_ - pos_));
      pos_ += piece.size();
      done(std::move(piece));
    });
  }

 private:
  chunk_fetch fetch_;
  std::uint64_t pos_;
  std::uint64_t end_;
};

}  // namespace

std::shared_ptr<api::body_source> chunk_source(chunk_fetch fetch, std::uint64_t first, std::uint64_t last) {
  return std::make_shared<chunk_reader>(std::move(fetch), first, last);
}

chunk_fetch remote_chunks(api::reader_service readers, std::string file_id) {
  return [readers = std::move(readers), id = std::move(file_id)](std::uint64_t index, chunk_done done) {
    // A one-shot actor asks the node that stores the file for the chunk.
    readers->home_system().spawn([readers, id, index, done = std::move(done)](caf::event_based_actor* self) {
      self->request(readers, std::chrono::seconds(30), api::chunk_atom::value, id, index)
          .then([done](std::string& bytes) { done(std::move(bytes)); }, [done](caf::error& err) { done(err); });
    });
  };
}

}  // namespace confab::gateway
