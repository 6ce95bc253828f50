#include "gateway/file_names.hpp"

#include <algorithm>
#include <cstdio>

#include "api/messages.hpp"

namespace confab::gateway {

std::string sanitize_name(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x80) {
      // Whole UTF-8 sequences pass; any other byte becomes '_'.
      std::size_t len = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
      bool valid = len > 0 && c < 0xF5 && i + len <= name.size();
      for (std::size_t k = 1; valid && k < len; ++k)
        valid = (static_cast<unsigned char>(name[i + k]) & 0xC0) == 0x80;
      if (valid) {
        out.append(name, i, len);
        i += len;
      } else {
        out.push_back('_');
        ++i;
      }
      continue;
    }
    out.push_back(c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '"' ? '_' : static_cast<char>(c));
    ++i;
  }
  if (out.size() > 255) {
    std::size_t cut = 255;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
      --cut;
    out.resize(cut);
  }
  if (out.find_first_not_of("._ ") == std::string::npos)
    return {};
  return out;
}

std::string disposition(const std::string& t, const std::string& name) {
  bool inline_ok = api::is_image(t) || t == "application/pdf" || t == "text/plain" || t.rfind("audio/", 0) == 0 ||
                   t.rfind("video/", 0) == 0;
  std::string ascii, encoded;
  for (unsigned char c : name) {
    ascii.push_back(c < 0x80 ? static_cast<char>(c) : '_');
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      encoded.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      encoded += buf;
    }
  }
  return std::string(inline_ok ? "inline" : "attachment") + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace confab::gateway
