// Confab's WebSocket protocol (PROTOCOL.md section 3) for the bench. Message
// events, by far the most frequent frames, are read with a few substring
// searches; everything else goes through the JSON parser.

#include <charconv>

#include <nlohmann/json.hpp>

#include "apps/bench/protocol.hpp"

namespace confab::bench {

namespace {

using json = nlohmann::json;

// Request ids carry their kind in the first letter: a(uth), j(oin), s(end), h(istory).
std::string request_id(char kind, std::uint64_t n) {
  std::string id(1, kind);
  return id.append(std::to_string(n));
}

// The string value of "key":"..." in a flat scan (bench bodies need no escapes).
std::string_view string_field(std::string_view text, std::string_view key) {
  auto at = text.find(key);
  if (at == std::string_view::npos)
    return {};
  auto start = at + key.size();
  auto end = text.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : text.substr(start, end - start);
}

std::int64_t number_field(std::string_view text, std::string_view key) {
  auto at = text.find(key);
  std::int64_t v = 0;
  if (at != std::string_view::npos)
    std::from_chars(text.data() + at + key.size(), text.data() + text.size(), v);
  return v;
}

class confab_protocol : public protocol {
 public:
  explicit confab_protocol(protocol_events& events) : events_(events) {}

  std::string path() const override { return "/ws"; }
  std::string subprotocol() const override { return {}; }
  bool has_history() const override { return true; }

  void start(conn& c) override {
    c.send(json{{"op", "auth"}, {"id", request_id('a', c.next_id++)}, {"token", c.secret}}.dump());
  }

  void frame(conn& c, std::string_view text) override {
    if (text.rfind(R"({"op":"message")", 0) == 0)
      return events_.delivered(c, string_field(text, R"("body":")"), number_field(text, R"("seq":)"));
    if (text.rfind(R"({"op":"ok","id":"s)", 0) == 0) {
      std::uint64_t n = 0;
      auto digits = text.substr(std::string_view(R"({"op":"ok","id":"s)").size());
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
      return events_.acked(c, n);
    }
    // A history page: its messages counted by their msg_id fields, unparsed
    // (the bench's bodies never contain one); parsing 50 messages per page
    // made the bench, not the server, the limit of the history workload.
    if (text.rfind(R"({"op":"ok","id":"h)", 0) == 0) {
      std::size_t n = 0;
      constexpr std::string_view field = R"("msg_id":")";
      for (auto at = text.find(field); at != std::string_view::npos; at = text.find(field, at + field.size()))
        ++n;
      return events_.history(c, n);
    }
    // Other events (member, presence, unread...) are not counted: skip them
    // unparsed, a 5,000-member room sends 12.5 million member events while it fills.
    // (Error replies have their keys sorted: "op" is not first.)
    if (text.rfind(R"({"op":"ok")", 0) != 0 && text.find(R"("op":"error")") == std::string_view::npos)
      return;
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object())
      return events_.refused(c, "unparsable frame");
    auto op = j.value("op", "");
    if (op == "error")
      return events_.refused(c, j.value("code", "error"));
    if (op != "ok" || !j.contains("id") || !j["id"].is_string())
      return;
    auto id = j["id"].get<std::string>();
    switch (id.empty() ? ' ' : id[0]) {
      case 'a':
        return events_.ready(c);
      case 'j':
        return events_.joined(c);
      case 'h':
        return events_.history(c, j["data"]["messages"].size());
      default:
        return;
    }
  }

  void join(conn& c, const std::string& room) override {
    c.send(json{{"op", "join"}, {"id", request_id('j', c.next_id++)}, {"room", room}}.dump());
  }

  std::uint64_t send_room(conn& c, const std::string& room, std::string_view body) override {
    auto n = c.next_id++;
    std::string frame;
    frame.reserve(body.size() + room.size() + 96);
    // Built by hand: the hot path of the load generator.
    frame.append(R"({"op":"send","id":")")
        .append(request_id('s', n))
        .append(R"(","room":")")
        .append(room)
        .append(R"(","client_msg_id":"c)")
        .append(std::to_string(n))
        .append(R"(","body":")")
        .append(body)
        .append("\"}");
    c.send(std::move(frame));
    return n;
  }

  std::uint64_t send_direct(conn& c, std::string_view body) override { return send_room(c, c.peer, body); }

  void fetch_history(conn& c, const std::string& room, int limit) override {
    c.send(json{{"op", "history"}, {"id", request_id('h', c.next_id++)}, {"room", room}, {"limit", limit}}.dump());
  }

 private:
  protocol_events& events_;
};

}  // namespace

std::unique_ptr<protocol> make_confab_protocol(protocol_events& events) {
  return std::make_unique<confab_protocol>(events);
}

}  // namespace confab::bench
