#include "gateway/static_files.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/sha.h>

#include "api/hex.hpp"

namespace confab::gateway {

namespace {

std::string content_type_of(const std::filesystem::path& p) {
  static const std::map<std::string, std::string> types{{".html", "text/html; charset=utf-8"},
                                                        {".js", "text/javascript; charset=utf-8"},
                                                        {".mjs", "text/javascript; charset=utf-8"},
                                                        {".css", "text/css; charset=utf-8"},
                                                        {".json", "application/json"},
                                                        {".svg", "image/svg+xml"},
                                                        {".png", "image/png"},
                                                        {".ico", "image/x-icon"},
                                                        {".webmanifest", "application/manifest+json"},
                                                        {".txt", "text/plain; charset=utf-8"}};
  auto it = types.find(p.extension().string());
  return it == types.end() ? "application/octet-stream" : it->second;
}

}  // namespace

std::shared_ptr<const static_files> static_files::load(const std::string& dir) {
  auto out = std::make_shared<static_files>();
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec))
    return out;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec))
      continue;
    auto rel = std::filesystem::relative(it->path(), dir, ec).generic_string();
    // Tests, packages and dot files next to the pages are not served.
    if (ec || rel.find("node_modules") != std::string::npos || rel.front() == '.' ||
        rel.find("/.") != std::string::npos)
      continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    file f;
    f.body = body.str();
    f.content_type = content_type_of(it->path());
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(f.body.data()), f.body.size(), digest);
    // Built from chars: GCC 12 warns (-Wrestrict, a false alarm) on a string
    // literal assigned or prepended here.
    std::string etag(1, '"');
    etag += api::to_hex(digest, 12);
    etag.push_back('"');
    f.etag = std::move(etag);
    out->files_.emplace(rel, std::move(f));
  }
  return out;
}

const static_files::file* static_files::find(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

void serve_static(const static_files& files, const std::string& dir, const exchange& ex) {
  auto path = dir;
  for (std::size_t i = 1; i < ex.path.size(); ++i)
    path += "/" + ex.path[i];
  if (ex.path.size() <= 1)
    path += "/index.html";
  const auto* f = path.find("..") == std::string::npos ? files.find(path) : nullptr;
  if (f == nullptr)
    return ex.respond_error(api::fail(api::errc::not_found, "no such page"));
  api::http_reply r;
  r.headers = {{"ETag", f->etag},
               {"Cache-Control", "no-cache"},
               {"X-Content-Type-Options", "nosniff"},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"},
               {"Content-Security-Policy",
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"}};
  if (ex.call.if_none_match == f->etag) {
    r.status = 304;
    return ex.out->respond(std::move(r));
  }
  r.status = 200;
  r.body = f->body;
  r.content_type = f->content_type;
  ex.out->respond(std::move(r));
}

}  // namespace confab::gateway
