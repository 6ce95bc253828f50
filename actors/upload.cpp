#include "actors/upload.hpp"

#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/file_types.hpp"
#include "actors/thumbnailer.hpp"
#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "wire/codec.hpp"
#include "wire/commands.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

namespace {

using self_ptr = caf::stateful_actor<upload_state>*;
constexpr std::size_t sniff_bytes = 64 * 1024;
constexpr auto silence_limit = std::chrono::seconds(60);

bool take_chunk(self_ptr self, const std::string& bytes) {
  auto& st = self->state;
  if (st.failure)
    return false;
  auto size = st.file.size + bytes.size();
  if (size > st.ctx->lim.max_file_size) {
    st.failure = fail(errc::too_large, "file is over the limit");
    return false;
  }
  if (size > st.quota_left) {
    st.failure = fail(errc::quota_exceeded, "file storage quota exceeded");
    return false;
  }
  if (auto err = st.file_db.put_chunk(st.file.id, st.file.chunks, bytes)) {
    st.failure = err;
    return false;
  }
  EVP_DigestUpdate(st.sha.get(), bytes.data(), bytes.size());
  if (st.head.size() < sniff_bytes)
    st.head.append(bytes, 0, sniff_bytes - st.head.size());
  st.file.size = size;
  ++st.file.chunks;
  return true;
}

void drop(self_ptr self) {
  auto& st = self->state;
  // Deliberately ignored: an orphaned chunk costs disk, never correctness.
  [[maybe_unused]] auto ignored = st.file_db.drop_chunks(st.file.id, st.file.chunks + 1);
  self->quit();
}

void reply_error(const api::responder_ptr& out, const caf::error& err) {
  auto f = api::describe(err);
  api::http_reply r;
  r.status = api::http_status(f.code);
  r.body = wire::http_error(f);
  out->respond(std::move(r));
}

// -- the file's other copies (docs/REPLICATION.md, "Files") -------------------

constexpr std::size_t max_in_flight = 4;
constexpr auto copy_timeout = std::chrono::seconds(30);

// N, and the first N-1 live nodes after this one in the file's rendezvous order.
void pick_copies(self_ptr self) {
  auto& st = self->state;
  auto view = st.ctx->place->current();
  st.wanted = std::min<std::size_t>(st.ctx->replication, view->live.size() + view->down.size());
  for (auto& m : st.ctx->place->file_peers(st.file.id))
    if (st.copies.size() + 1 < st.wanted)
      st.copies.push_back({m.readers, 0, false});
  // Too few live nodes for a majority: refused before the body is read.
  if (st.copies.size() < st.wanted / 2)
    st.failure = fail(errc::unavailable, "too few nodes are live to keep a copy of the file; try again");
}

bool copies_busy(const upload_state& st) {
  return std::any_of(st.copies.begin(), st.copies.end(),
                     [](auto& c) { return !c.failed && c.in_flight >= max_in_flight; });
}

bool copies_quiet(const upload_state& st) {
  return std::all_of(st.copies.begin(), st.copies.end(), [](auto& c) { return c.in_flight == 0; });
}

void complete(self_ptr self);

void chunk_answered(self_ptr self, std::size_t i, bool ok) {
  auto& st = self->state;
  auto& c = st.copies[i];
  --c.in_flight;
  c.failed = c.failed || !ok;
  if (st.held_ack && !copies_busy(st)) {
    auto ack = std::move(st.held_ack);
    st.held_ack = nullptr;
    ack->done(true);
  }
  if (st.finishing && copies_quiet(st))
    complete(self);
}

void send_to_copies(self_ptr self, std::uint64_t index, const std::string& bytes) {
  auto& st = self->state;
  for (std::size_t i = 0; i < st.copies.size(); ++i) {
    auto& c = st.copies[i];
    if (c.failed)
      continue;
    ++c.in_flight;
    self->request(c.readers, copy_timeout, api::chunk_atom::value, st.file.id, index, bytes)
        .then([self, i](bool ok) { chunk_answered(self, i, ok); },
              [self, i](caf::error&) { chunk_answered(self, i, false); });
  }
}

// Copies besides this node's that make a majority of N.
std::size_t needed(const upload_state& st) {
  return st.wanted / 2;
}

// The record goes here (with the owner's usage) once enough copies have it.
void store_here(self_ptr self) {
  auto& st = self->state;
  auto out = std::move(st.finishing);
  st.finishing = nullptr;
  if (auto err = st.file_db.put_file(st.file, true, st.ctx->lim.user_quota)) {
    reply_error(out, err);
    return drop(self);
  }
  api::http_reply r;
  r.status = 201;
  r.body = wire::file_reply_json(st.file);
  out->respond(std::move(r));
  queue_thumbnail(*st.ctx, st.file);
  self->quit();
}

void record_answered(self_ptr self, bool ok, std::size_t asked) {
  auto& st = self->state;
  ++st.answered;
  st.stored += ok ? 1 : 0;
  if (!st.finishing)
    return;
  if (st.stored >= needed(st))
    return store_here(self);
  if (st.answered == asked) {
    reply_error(st.finishing, fail(errc::unavailable, "too few nodes stored a copy of the file; try again"));
    drop(self);
  }
}

// Every chunk is written here and answered by the copies: the record.
void complete(self_ptr self) {
  auto& st = self->state;
  if (st.failure) {
    reply_error(st.finishing, st.failure);
    return drop(self);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(st.sha.get(), digest, &len);
  st.file.sha256 = api::to_hex(digest, len);
  // An encrypted file's bytes say nothing: it is served as what it is (and
  // so, not being an image type, never gets a thumbnail).
  st.file.content_type = st.file.encrypted ? "application/octet-stream" : files::sniff(st.head, st.declared_type);
  st.file.created_at = api::now_ms();
  auto ok =
      static_cast<std::size_t>(std::count_if(st.copies.begin(), st.copies.end(), [](auto& c) { return !c.failed; }));
  if (ok < needed(st)) {
    reply_error(st.finishing, fail(errc::unavailable, "too few nodes took a copy of the file; try again"));
    return drop(self);
  }
  if (needed(st) == 0)
    return store_here(self);
  for (auto& c : st.copies)
    if (!c.failed)
      self->request(c.readers, copy_timeout, api::finish_atom::value, st.file)
          .then([self, ok](bool stored) { record_answered(self, stored, ok); },
                [self, ok](caf::error&) { record_answered(self, false, ok); });
}

}  // namespace

caf::behavior upload_actor(self_ptr self, context_ptr ctx, storage::file_store files, api::file_info draft,
                           std::string declared_type, std::uint64_t quota_left) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.file_db = std::move(files);
  st.file = std::move(draft);
  st.declared_type = std::move(declared_type);
  st.quota_left = quota_left;
  EVP_DigestInit_ex(st.sha.get(), EVP_sha256(), nullptr);
  pick_copies(self);
  // Whatever fails, what was written goes.
  self->set_exception_handler([self](std::exception_ptr&) -> caf::error {
    auto& st = self->state;
    [[maybe_unused]] auto ignored = st.file_db.drop_chunks(st.file.id, st.file.chunks + 1);
    return caf::make_error(caf::sec::runtime_error);
  });
  return {
      [=](api::chunk_atom, const std::string& bytes, const api::chunk_ack_ptr& ack) {
        auto index = self->state.file.chunks;
        if (!take_chunk(self, bytes))
          return ack->done(false);
        send_to_copies(self, index, bytes);
        if (copies_busy(self->state))
          self->state.held_ack = ack;
        else
          ack->done(true);
      },
      [=](api::finish_atom, const api::responder_ptr& out) {
        self->state.finishing = out;
        if (copies_quiet(self->state))
          complete(self);
      },
      [=](api::abort_atom) { drop(self); },
      caf::after(silence_limit) >> [=] { drop(self); },
  };
}

namespace {}  // namespace

}  // namespace confab::actors
