#pragma once

// Test helpers: a fresh directory under /tmp, removed with the object; value().

#include <filesystem>
#include <stdexcept>
#include <string>

#include <caf/expected.hpp>

#include <stdlib.h>

namespace confab::test {

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "confab-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The value of an expected, as a copy: CAF's check macros bind references,
// which must not point into a temporary.
template <class T>
T value(caf::expected<T> x) {
  if (!x)
    throw std::runtime_error("expected a value");
  return std::move(*x);
}

}  // namespace confab::test
