// libFuzzer target: the outbound side of a WebSocket connection, the real
// net::ws_connection (text frames framed by its text_frame_header and
// appended to a coalescing_stream, its slow-consumer limit, close_now, its
// read loop) under a Beast server stream that writes its own control frames
// (pong, close) through the same layer, over an in-memory socket that may
// take partial writes or fail.
//
// The input is a program of steps: the session's send_text and close, the
// peer's frames (ping, text, close, anything) or its leaving, the socket's
// partial writes and failure, and running the queued handlers one at a time.
// What the peer receives must be valid RFC 6455 server frames, whole (only a
// failed socket cuts one), nothing after a close frame, and the text frames
// exactly those sent, in order, less only those dropped by a close, a
// failure or the peer leaving.

#include <fuzzer/FuzzedDataProvider.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>  // beast::async_teardown, named by coalescing_stream.hpp
#include <boost/beast/websocket.hpp>

#include "net/ws_connection.hpp"
#include "stream/coalescing_stream.hpp"
#include "tests/fuzz/check.hpp"

// The registry belongs to net/server.cpp, which this target does not link:
// a connection registers and unregisters, nothing else here needs it.
void confab::net::connection_registry::add(const void*, std::weak_ptr<api::connection_sink>) {}
void confab::net::connection_registry::remove(const void*) {}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace api = confab::api;
namespace net = confab::net;

// The socket's state, kept by the test when the connection owns the socket.
struct socket_state {
  std::string wire;                    // what the peer received
  std::size_t write_max = SIZE_MAX;    // bytes a write takes
  std::size_t writes_left = SIZE_MAX;  // then every write fails
  bool failed = false;                 // a write failed (or came after the shutdown)
  bool closed = false;                 // torn down
  bool peer_gone = false;              // the peer closed its side: reads see the end
  std::string inbound;                 // from the peer, not yet read
  std::function<void()> pending_read;
};

// The socket under the layer: writes go to `wire` in pieces of at most
// write_max bytes and fail once writes_left is used up; a read takes what
// the peer sent, or waits for it. The test keeps its state.
class mem_stream {
 public:
  using executor_type = asio::any_io_executor;
  mem_stream(asio::io_context& ioc, std::shared_ptr<socket_state> st) : ex_(ioc.get_executor()), st_(std::move(st)) {}
  executor_type get_executor() noexcept { return ex_; }
  void expires_never() {}

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return asio::async_initiate<Handler, void(beast::error_code, std::size_t)>(
        [this](auto done, const MutableBuffers& b) {
          auto h = std::make_shared<decltype(done)>(std::move(done));
          st_->pending_read = [ex = ex_, st = st_.get(), h, b] {
            auto n = asio::buffer_copy(b, asio::buffer(st->inbound));
            st->inbound.erase(0, n);
            beast::error_code ec = n == 0 ? beast::error_code(asio::error::eof) : beast::error_code();
            asio::post(ex, beast::bind_handler(std::move(*h), ec, n));
          };
          if (!st_->inbound.empty() || st_->closed || st_->peer_gone)
            std::exchange(st_->pending_read, nullptr)();
        },
        handler, buffers);
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return asio::async_initiate<Handler, void(beast::error_code, std::size_t)>(
        [this](auto done, const ConstBuffers& b) {
          auto& st = *st_;
          auto want = asio::buffer_size(b);
          beast::error_code ec;
          std::size_t n = 0;
          if (st.closed || st.writes_left == 0) {
            ec = asio::error::broken_pipe;
            st.failed = true;
          } else {
            --st.writes_left;
            // At most write_max bytes, but in no more than 8 pieces: a byte
            // a call over a big frame costs time and finds nothing more.
            n = std::min(want, std::max(st.write_max, want / 8 + 1));
            auto old = st.wire.size();
            st.wire.resize(old + n);
            asio::buffer_copy(asio::buffer(&st.wire[old], n), b, n);
          }
          asio::post(ex_, beast::bind_handler(std::move(done), ec, n));
        },
        handler, buffers);
  }

 private:
  executor_type ex_;
  std::shared_ptr<socket_state> st_;
  friend void shut_down(mem_stream& s);
};

void shut_down(mem_stream& s) {
  s.st_->closed = true;
  if (s.st_->pending_read)
    std::exchange(s.st_->pending_read, nullptr)();
}

template <class Handler>
void async_teardown(beast::role_type, mem_stream& s, Handler&& handler) {
  shut_down(s);
  asio::post(s.get_executor(), beast::bind_handler(std::forward<Handler>(handler), beast::error_code()));
}

// What Beast closes on a timeout.
void beast_close_socket(mem_stream& s) {
  shut_down(s);
}

using connection = net::ws_connection<mem_stream>;

// A client frame: masked, as RFC 6455 requires of a client.
std::string client_frame(std::uint8_t first, const std::string& payload, std::uint32_t mask) {
  std::string out(1, static_cast<char>(first));
  auto n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  char key[4];
  for (int i = 0; i < 4; ++i)
    key[i] = static_cast<char>(mask >> (8 * i));
  out.append(key, 4);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return out;
}

// The constructor gained a connection slot in a later revision: both work.
template <class C>
std::shared_ptr<C> make_connection(mem_stream s, net::shared_ptr_t shared) {
  if constexpr (std::is_constructible_v<C, mem_stream&&, net::shared_ptr_t, std::string, std::nullptr_t>)
    return std::make_shared<C>(std::move(s), std::move(shared), std::string("127.0.0.1"), nullptr);
  else
    return std::make_shared<C>(std::move(s), std::move(shared), std::string("127.0.0.1"));
}

struct harness {
  asio::io_context ioc;
  std::shared_ptr<socket_state> sock = std::make_shared<socket_state>();
  net::shared_ptr_t shared = std::make_shared<net::shared_state>();
  api::sink_ptr sink;  // as the session holds it: the connection lives on its own
  std::size_t handshake_bytes = 0;
  std::vector<std::string> sent;

  harness(std::size_t fail_after, std::size_t max_outbound) {
    sock->writes_left = fail_after;
    shared->settings.max_outbound = max_outbound;
    shared->handlers.spawn_session = [this](api::sink_ptr s, std::string) {
      sink = std::move(s);
      return caf::actor();
    };
  }

  // A pending read holds the connection, as the reactor would; the reactor
  // would drop it with the io_context.
  ~harness() { auto read = std::exchange(sock->pending_read, nullptr); }
  harness(const harness&) = delete;
  harness& operator=(const harness&) = delete;

  void step() {
    ioc.restart();
    ioc.poll_one();
  }

  void drain() {
    for (int i = 0; i < 100000; ++i) {
      ioc.restart();
      if (ioc.poll_one() == 0)
        break;
    }
  }

  void open() {
    http::request<http::string_body> req{http::verb::get, "/ws", 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "upgrade");
    req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(http::field::sec_websocket_version, "13");
    make_connection<connection>(mem_stream(ioc, sock), shared)->run(std::move(req));
    drain();
    CHECK(!sink.expired() && sink.lock()->queued_bytes() == 0);
    handshake_bytes = sock->wire.size();
    CHECK(sock->wire.starts_with("HTTP/1.1 101") && sock->wire.ends_with("\r\n\r\n"));
  }

  void send_text(std::string text) {
    if (auto conn = sink.lock()) {
      sent.push_back(text);
      conn->send_text(std::make_shared<const std::string>(std::move(text)));
    }
  }

  void close(std::uint16_t code, std::string reason) {
    if (auto conn = sink.lock())
      conn->close(code, std::move(reason));
  }

  void peer_send(const std::string& bytes) {
    if (sock->closed || sock->peer_gone || bytes.empty())
      return;
    sock->inbound += bytes;
    if (sock->pending_read)
      std::exchange(sock->pending_read, nullptr)();
  }

  // The peer goes away without a close frame.
  void peer_leaves() {
    sock->peer_gone = true;
    if (sock->pending_read)
      std::exchange(sock->pending_read, nullptr)();
  }

  // The bytes end inside a frame: only a failed socket cuts one.
  void truncated() const { CHECK(sock->failed); }

  void verify() {
    std::string_view got(sock->wire);
    got.remove_prefix(handshake_bytes);
    std::vector<std::string_view> texts;
    bool closed = false;
    std::size_t pos = 0;
    while (pos < got.size()) {
      // FIN, no RSV bits, a known opcode, no mask (server to client),
      // the length in the fewest bytes.
      auto avail = got.size() - pos;
      if (avail < 2)
        return truncated();
      auto b0 = static_cast<unsigned char>(got[pos]), b1 = static_cast<unsigned char>(got[pos + 1]);
      CHECK(b0 == 0x81 || b0 == 0x88 || b0 == 0x89 || b0 == 0x8A);
      CHECK((b1 & 0x80) == 0);
      std::size_t head = 2, len = b1 & 0x7f;
      if (len >= 126) {
        head += len == 126 ? 2 : 8;
        if (avail < head)
          return truncated();
        len = 0;
        for (std::size_t i = 2; i < head; ++i)
          len = (len << 8) | static_cast<unsigned char>(got[pos + i]);
        CHECK(head == 4 ? len >= 126 && len < 65536 : len >= 65536 && (len >> 63) == 0);
      }
      CHECK(b0 == 0x81 || len <= 125);
      // RFC 6455 5.5.1: nothing after a close frame.
      CHECK(!closed);
      closed = b0 == 0x88;
      if (avail < head + len)
        return truncated();
      if (b0 == 0x81)
        texts.push_back(got.substr(pos + head, len));
      pos += head + len;
    }
    // The texts sent, in order, less some only if the connection closed,
    // failed, or the peer left.
    std::size_t k = 0;
    for (auto& t : texts) {
      while (k < sent.size() && sent[k] != t)
        ++k;
      CHECK(k < sent.size());
      ++k;
    }
    if (!sock->failed && !closed && !sock->peer_gone)
      CHECK(texts.size() == sent.size());
    if (auto conn = sink.lock(); conn && !sock->failed)
      CHECK(conn->queued_bytes() == 0);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  auto fail_after = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(1, 64) : SIZE_MAX;
  auto limit = in.ConsumeIntegralInRange<std::size_t>(0, 100000);
  harness h(fail_after, limit);
  h.open();
  for (int ops = 0; ops < 200 && in.remaining_bytes() > 0; ++ops) {
    switch (in.ConsumeIntegralInRange<int>(0, 10)) {
      case 0:
      case 1: {
        // A frame of each length encoding: 7, 16 and 64 bits.
        static constexpr std::size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
        auto n = in.ConsumeBool() ? sizes[in.ConsumeIntegralInRange<std::size_t>(0, 7)]
                                  : in.ConsumeIntegralInRange<std::size_t>(0, 300);
        auto text = in.ConsumeRandomLengthString(std::min<std::size_t>(n, 300));
        text.resize(n, 'x');
        h.send_text(std::move(text));
        break;
      }
      case 2:
        h.step();
        break;
      case 3:
        for (auto n = in.ConsumeIntegralInRange<int>(1, 16); n > 0; --n)
          h.step();
        break;
      case 4: {
        // The session closes: 4401, 4408, 1007, ...
        auto code = in.ConsumeIntegralInRange<std::uint16_t>(1000, 4999);
        h.close(code, in.ConsumeRandomLengthString(100));
        break;
      }
      case 5:
      case 6: {
        // The peer: ping, text, close, binary, or any first byte; a text
        // over the frame limit (1009).
        static constexpr std::uint8_t kinds[] = {0x89, 0x81, 0x88, 0x82};
        auto kind = in.ConsumeIntegralInRange<int>(0, 4);
        auto first = kind < 4 ? kinds[kind] : in.ConsumeIntegral<std::uint8_t>();
        std::string payload;
        if (first == 0x88)
          payload = std::string("\x03\xe8", 2);
        else if (first == 0x81 && in.ConsumeIntegralInRange<int>(0, 15) == 0)
          payload.assign(70000, 'y');
        else
          payload = in.ConsumeRandomLengthString(125);
        h.peer_send(client_frame(first, payload, in.ConsumeIntegral<std::uint32_t>()));
        break;
      }
      case 7:
        h.peer_send(in.ConsumeRandomLengthString(16));
        break;
      case 8:
        h.sock->write_max = in.ConsumeIntegralInRange<std::size_t>(1, 70000);
        break;
      case 9:
        h.drain();
        break;
      case 10:
        h.peer_leaves();
        break;
    }
  }
  h.drain();
  h.verify();
  return 0;
}
