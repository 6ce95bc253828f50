#include "actors/upload.hpp"

#include <vips/vips.h>

#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <mutex>

#include "actors/api/atoms.hpp"
#include "actors/api/errors.hpp"
#include "actors/api/hex.hpp"
#include "actors/files.hpp"
#include "wire/codec.hpp"

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

void finish(self_ptr self, const api::responder_ptr& out, const caf::actor& thumbnailer) {
  auto& st = self->state;
  if (st.failure) {
    reply_error(out, st.failure);
    return drop(self);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(st.sha.get(), digest, &len);
  st.file.sha256 = api::to_hex(digest, len);
  st.file.content_type = files::sniff(st.head, st.declared_type);
  st.file.created_at = now_ms();
  if (auto err = st.ctx->db->put_file(st.file, true, st.ctx->lim.user_quota)) {
    reply_error(out, err);
    return drop(self);
  }
  api::http_reply r;
  r.status = 201;
  r.body = wire::json{{"file", wire::file_json(st.file)}}.dump();
  out->respond(std::move(r));
  if (thumbnailer && files::is_image(st.file.content_type))
    self->send(thumbnailer, api::thumb_atom::value, st.file.id);
  self->quit();
}

}  // namespace

caf::behavior upload_actor(self_ptr self, context_ptr ctx, api::file_info draft, std::string declared_type,
                           std::uint64_t quota_left, caf::actor thumbnailer) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.file = std::move(draft);
  st.declared_type = std::move(declared_type);
  st.quota_left = quota_left;
  EVP_DigestInit_ex(st.sha.get(), EVP_sha256(), nullptr);
  // Whatever fails, what was written goes.
  self->set_exception_handler([self](std::exception_ptr&) -> caf::error {
    auto& st = self->state;
    [[maybe_unused]] auto ignored = st.ctx->db->drop_chunks(st.file.id, st.file.chunks + 1);
    return caf::make_error(caf::sec::runtime_error);
  });
  return {
      [=](api::chunk_atom, const std::string& bytes, const api::chunk_ack_ptr& ack) {
        ack->done(take_chunk(self, bytes));
      },
      [=](api::finish_atom, const api::responder_ptr& out) { finish(self, out, thumbnailer); },
      [=](api::abort_atom) { drop(self); },
      caf::after(silence_limit) >> [=] { drop(self); },
  };
}

caf::behavior thumbnailer_actor(caf::event_based_actor*, context_ptr ctx) {
  static std::once_flag vips_ready;
  std::call_once(vips_ready, [] { VIPS_INIT("confabd"); });
  return {
      [ctx](api::thumb_atom, const std::string& id) {
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
        VipsImage* original = vips_image_new_from_buffer(bytes.data(), bytes.size(), "", nullptr);
        if (original == nullptr)
          return;
        f->width = static_cast<std::uint32_t>(vips_image_get_width(original));
        f->height = static_cast<std::uint32_t>(vips_image_get_height(original));
        g_object_unref(original);
        VipsImage* thumb = nullptr;
        if (vips_thumbnail_buffer(bytes.data(), bytes.size(), &thumb, 320, "size", VIPS_SIZE_DOWN, nullptr) != 0)
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
