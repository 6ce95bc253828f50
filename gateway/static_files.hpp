#pragma once

// The admin console and the web client: files of --web-dir, read once at
// start-up and served from memory by the HTTP frontend (no build step).

#include <map>
#include <memory>
#include <string>

#include "gateway/http_exchange.hpp"

namespace confab::gateway {

class static_files {
 public:
  struct file {
    std::string body;
    std::string content_type;
    std::string etag;
  };

  // Every regular file under `dir` (which may be missing: nothing is served).
  [[nodiscard]] static std::shared_ptr<const static_files> load(const std::string& dir);
  // By path relative to the dir ("admin/index.html"); null when absent.
  [[nodiscard]] const file* find(const std::string& path) const;
  [[nodiscard]] std::size_t size() const { return files_.size(); }

 private:
  std::map<std::string, file> files_;
};

// Answers a GET from the files under `dir`: the path after its first segment
// names the file, and no more than that segment means dir/index.html.
// 200, 304 or 404.
void serve_static(const static_files& files, const std::string& dir, const exchange& ex);

}  // namespace confab::gateway
