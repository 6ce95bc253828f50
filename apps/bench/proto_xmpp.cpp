// XMPP over WebSocket (RFC 7395) for the bench, enough to drive ejabberd the
// way a chat client would: stream open, SASL PLAIN, stream restart, resource
// bind, initial presence; MUC join with no history replay, groupchat
// messages (which MUC echoes to their sender), and 1:1 chat messages to the
// partner's bare JID. Frames are recognised by their first bytes and a few
// substring searches; bench bodies need no XML escaping. Every stanza names
// its namespace (jabber:client), as RFC 7395's examples do: the framing's
// <open/> sets none, and Prosody refuses stanzas without one.

#include <openssl/evp.h>

#include "apps/bench/protocol.hpp"

namespace confab::bench {

namespace {

constexpr std::string_view framing_ns = "urn:ietf:params:xml:ns:xmpp-framing";

enum stage : int { opening = 0, authenticating, reopening, binding, online };

bool starts(std::string_view text, std::string_view prefix) {
  return text.rfind(prefix, 0) == 0;
}
bool has(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

class xmpp_protocol : public protocol {
 public:
  xmpp_protocol(protocol_events& events, std::string domain) : events_(events), domain_(std::move(domain)) {}

  std::string path() const override { return "/ws"; }
  std::string subprotocol() const override { return "xmpp"; }
  bool has_history() const override { return false; }

  void start(conn& c) override {
    c.stage = opening;
    open_stream(c);
  }

  void frame(conn& c, std::string_view text) override {
    if (starts(text, "<message")) {
      auto from = text.find("<body>");
      auto to = text.find("</body>");
      if (from != std::string_view::npos && to != std::string_view::npos && to > from)
        events_.delivered(c, text.substr(from + 6, to - from - 6), 0);
      return;
    }
    if (starts(text, "<presence")) {
      // Our own occupant presence (status 110) answers a join.
      if (has(text, "code='110'") || has(text, "code=\"110\""))
        events_.joined(c);
      else if (has(text, "type='error'") || has(text, "type=\"error\""))
        events_.refused(c, "presence error");
      return;
    }
    switch (c.stage) {
      case opening:
        if (has(text, "<mechanisms")) {
          std::string plain = std::string(1, '\0') + c.user + std::string(1, '\0') + c.secret;
          c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + base64(plain) + "</auth>");
          c.stage = authenticating;
        }
        return;
      case authenticating:
        if (starts(text, "<success")) {
          c.stage = reopening;
          open_stream(c);
        } else if (starts(text, "<failure")) {
          events_.refused(c, "sasl failure");
        }
        return;
      case reopening:
        if (has(text, "urn:ietf:params:xml:ns:xmpp-bind")) {
          c.send(
              "<iq xmlns='jabber:client' type='set' id='bind'><bind "
              "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource>"
              "</bind></iq>");
          c.stage = binding;
        }
        return;
      case binding:
        if (starts(text, "<iq") && has(text, "id='bind'") && has(text, "type='result'")) {
          c.stage = online;
          c.send(
              "<presence xmlns='jabber:client'/>");  // available, so that messages to the bare JID reach this resource
          events_.ready(c);
        } else if (starts(text, "<iq")) {
          events_.refused(c, "bind refused");
        }
        return;
      default:
        if (starts(text, "<close"))
          events_.refused(c, "stream closed");
        return;
    }
  }

  void join(conn& c, const std::string& room) override {
    c.send("<presence xmlns='jabber:client' to='" + room + "/" + c.user +
           "'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>");
  }

  std::uint64_t send_room(conn& c, const std::string& room, std::string_view body) override {
    std::string frame;
    frame.reserve(body.size() + room.size() + 64);
    frame.append("<message xmlns='jabber:client' to='")
        .append(room)
        .append("' type='groupchat'><body>")
        .append(body)
        .append("</body></message>");
    c.send(std::move(frame));
    return 0;
  }

  std::uint64_t send_direct(conn& c, std::string_view body) override {
    std::string frame;
    frame.reserve(body.size() + c.peer.size() + 64);
    frame.append("<message xmlns='jabber:client' to='")
        .append(c.peer)
        .append("' type='chat'><body>")
        .append(body)
        .append("</body></message>");
    c.send(std::move(frame));
    return 0;
  }

  void fetch_history(conn&, const std::string&, int) override {}

 private:
  void open_stream(conn& c) {
    c.send("<open xmlns='" + std::string(framing_ns) + "' to='" + domain_ + "' version='1.0'/>");
  }

  protocol_events& events_;
  std::string domain_;
};

}  // namespace

std::unique_ptr<protocol> make_xmpp_protocol(protocol_events& events, std::string domain) {
  return std::make_unique<xmpp_protocol>(events, std::move(domain));
}

}  // namespace confab::bench
