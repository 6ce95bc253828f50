#include "actors/thumbnailer.hpp"

#include <vips/vips.h>

#include <atomic>
#include <mutex>

#include "actors/file_types.hpp"
#include "api/atoms.hpp"

namespace confab::actors {

namespace {

// The largest image thumbnailed (PROTOCOL.md section 10).
constexpr std::uint64_t max_thumbnail_pixels = 40'000'000;

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

api::thumbnailer_actor::behavior_type thumbnailer_actor(api::thumbnailer_actor::pointer, context_ptr ctx,
                                                        storage::file_store file_db) {
  static std::once_flag vips_ready;
  std::call_once(vips_ready, [] {
    VIPS_INIT("confabd");
    // Loaders of hostile formats (ImageMagick, PDF, SVG, ...) stay off even
    // if something reached them.
    vips_block_untrusted_set(TRUE);
  });
  return {
      [ctx, file_db = std::make_shared<storage::file_store>(std::move(file_db))](api::thumb_atom,
                                                                                 const std::string& id) {
        struct done_guard {
          std::atomic<std::size_t>& n;
          ~done_guard() { n.fetch_sub(1); }
        } done{*ctx->thumbnails_waiting};
        auto f = file_db->file(id);
        if (!f || f->thumbnail)
          return;
        std::string bytes;
        bytes.reserve(f->size);
        for (std::uint64_t i = 0; i < f->chunks; ++i) {
          auto c = file_db->chunk(id, i);
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
            file_db->put_thumbnail(*f, std::string_view(static_cast<char*>(jpeg), jpeg_len));
        g_free(jpeg);
      },
  };
}

void queue_thumbnail(const node_context& ctx, const api::file_info& f) {
  constexpr std::size_t max_waiting = 64;
  if (!ctx.thumbnailer || !api::is_image(f.content_type))
    return;
  auto& waiting = *ctx.thumbnails_waiting;
  if (waiting.fetch_add(1) < max_waiting)
    caf::anon_send(ctx.thumbnailer, api::thumb_atom::value, f.id);
  else
    waiting.fetch_sub(1);
}

}  // namespace confab::actors
