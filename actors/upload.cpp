#include "actors/upload.hpp"

#include <vips/vips.h>

#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <mutex>

#include "actors/files.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "wire/codec.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

namespace {

using self_ptr = caf::stateful_actor<upload_state>*;
constexpr std::size_t sniff_bytes = 64 * 1024;
constexpr auto silence_limit = std::chrono::seconds(60);
// The largest image thumbnailed (PROTOCOL.md section 10).
constexpr std::uint64_t max_thumbnail_pixels = 40'000'000;

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
  if (auto err = st.ctx->db->put_chunk(st.file.id, st.file.chunks, bytes)) {
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
  [[maybe_unused]] auto ignored = st.ctx->db->drop_chunks(st.file.id, st.file.chunks + 1);
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
  if (auto err = st.ctx->db->put_file(st.file, true, st.ctx->lim.user_quota)) {
    reply_error(out, err);
    return drop(self);
  }
  api::http_reply r;
  r.status = 201;
  r.body = wire::json{{"file", wire::file_json(st.file)}}.dump();
  out->respond(std::move(r));
  files::queue_thumbnail(*st.ctx, st.file);
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
  st.file.content_type = files::sniff(st.head, st.declared_type);
  st.file.created_at = now_ms();
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

caf::behavior upload_actor(self_ptr self, context_ptr ctx, api::file_info draft, std::string declared_type,
                           std::uint64_t quota_left) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.file = std::move(draft);
  st.declared_type = std::move(declared_type);
  st.quota_left = quota_left;
  EVP_DigestInit_ex(st.sha.get(), EVP_sha256(), nullptr);
  pick_copies(self);
  // Whatever fails, what was written goes.
  self->set_exception_handler([self](std::exception_ptr&) -> caf::error {
    auto& st = self->state;
    [[maybe_unused]] auto ignored = st.ctx->db->drop_chunks(st.file.id, st.file.chunks + 1);
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

namespace {

// The image in `bytes`, opened by the loader of its sniffed type only (never
// libvips' own sniffing, which would reach any loader Debian ships), for
// sequential reading: only its header is decoded here.
VipsImage* open_image(const std::string& type, std::string& bytes) {
  VipsImage* out = nullptr;
  void* data = bytes.data();
  int rc = -1;
  if (type == "image/png")
    rc = vips_pngload_buffer(data, bytes.size(), &out, "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
  else if (type == "image/jpeg")
    rc = vips_jpegload_buffer(data, bytes.size(), &out, "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
  else if (type == "image/gif")
    rc = vips_gifload_buffer(data, bytes.size(), &out, "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
  else if (type == "image/webp")
    rc = vips_webpload_buffer(data, bytes.size(), &out, "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
  return rc == 0 ? out : nullptr;
}

}  // namespace

caf::behavior thumbnailer_actor(caf::event_based_actor*, context_ptr ctx) {
  static std::once_flag vips_ready;
  std::call_once(vips_ready, [] {
    VIPS_INIT("confabd");
    // Loaders of hostile formats (ImageMagick, PDF, SVG, ...) stay off even
    // if something reached them.
    vips_block_untrusted_set(TRUE);
  });
  return {
      [ctx](api::thumb_atom, const std::string& id) {
        struct done_guard {
          std::atomic<std::size_t>& n;
          ~done_guard() { n.fetch_sub(1); }
        } done{*ctx->thumbnails_waiting};
        auto f = ctx->db->file(id);
        if (!f || f->thumbnail)
          return;
        std::string bytes;
        bytes.reserve(f->size);
        for (std::uint64_t i = 0; i < f->chunks; ++i) {
          auto c = ctx->db->chunk(id, i);
          if (!c)
            return;
          bytes += *c;
        }
        VipsImage* original = open_image(f->content_type, bytes);
        if (original == nullptr)
          return;
        auto width = static_cast<std::uint64_t>(vips_image_get_width(original));
        auto height = static_cast<std::uint64_t>(vips_image_get_height(original));
        // A pixel flood (a small file of a huge image) is refused from the
        // header, before any pixel is decoded.
        if (width * height > max_thumbnail_pixels) {
          g_object_unref(original);
          return;
        }
        f->width = static_cast<std::uint32_t>(width);
        f->height = static_cast<std::uint32_t>(height);
        VipsImage* thumb = nullptr;
        int made = vips_thumbnail_image(original, &thumb, 320, "size", VIPS_SIZE_DOWN, nullptr);
        g_object_unref(original);
        if (made != 0)
          return;
        void* jpeg = nullptr;
        std::size_t jpeg_len = 0;
        int rc = vips_jpegsave_buffer(thumb, &jpeg, &jpeg_len, "Q", 80, nullptr);
        g_object_unref(thumb);
        if (rc != 0)
          return;
        f->thumbnail = true;
        // Deliberately ignored: without the write there is simply no thumbnail.
        [[maybe_unused]] auto ignored =
            ctx->db->put_thumbnail(*f, std::string_view(static_cast<char*>(jpeg), jpeg_len));
        g_free(jpeg);
      },
  };
}

}  // namespace confab::actors
