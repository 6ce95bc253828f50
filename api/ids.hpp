#pragma once

// Strong ids: a user id can't be passed where a room id is expected.

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/meta/type_name.hpp>

namespace confab::api {

template <class Tag>
struct strong_id {
  std::string value;

  strong_id() = default;
  explicit strong_id(std::string v) : value(std::move(v)) {}
  [[nodiscard]] bool empty() const { return value.empty(); }
  auto operator<=>(const strong_id&) const = default;
};

template <class Inspector, class Tag>
typename Inspector::result_type inspect(Inspector& f, strong_id<Tag>& x) {
  return f(caf::meta::type_name(Tag::name), x.value);
}

struct user_tag {
  static constexpr const char* name = "confab::user_id";
};
struct room_tag {
  static constexpr const char* name = "confab::room_id";
};
struct session_tag {
  static constexpr const char* name = "confab::session_id";
};

using user_id = strong_id<user_tag>;
using room_id = strong_id<room_tag>;
using session_id = strong_id<session_tag>;
using seq_t = std::uint64_t;

}  // namespace confab::api

template <class Tag>
struct std::hash<confab::api::strong_id<Tag>> {
  std::size_t operator()(const confab::api::strong_id<Tag>& x) const noexcept {
    return std::hash<std::string>{}(x.value);
  }
};
