// libFuzzer target: the bytes of one client connection up to routing, the
// way net/http_session.cpp reads them (a header parser with its header
// limit, then a string body with the HTTP body limit checked against the
// declared length, or a streamed upload body in chunks; keep-alive, several
// requests on one connection; the upgrade to a WebSocket at /ws), then what
// the frontend does before it picks a route: the call net/ builds, the
// target split into path and query (split_target), and the JSON body
// (parse_body).
//
// is_upload_target and make_call are private to http_session.cpp, tangled
// with its I/O: which body path a request takes is chosen by the input, and
// the call is built from the same header fields.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "gateway/http_exchange.hpp"
#include "net/server.hpp"
#include "tests/fuzz/check.hpp"
#include "wire/codec.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace api = confab::api;
using confab::wire::json;

const confab::net::server_settings settings;
constexpr std::size_t upload_chunk = api::file_info::chunk_size;

// Records the frontend's answer instead of writing it.
class recorder : public api::http_responder {
 public:
  void respond(api::http_reply reply) override { replies.push_back(std::move(reply)); }
  void proceed(caf::actor) override { ++proceeds; }
  std::vector<api::http_reply> replies;
  int proceeds = 0;
};

// What the frontend sees before routing: path segments, query, body.
void route_prologue(api::http_call call) {
  auto out = std::make_shared<recorder>();
  confab::gateway::exchange ex;
  ex.call = std::move(call);
  ex.out = out;
  confab::gateway::split_target(ex);

  const auto& target = ex.call.target;
  auto path = target.substr(0, target.find('?'));
  // The segments are the path's '/'-separated parts, none empty.
  std::vector<std::string> parts;
  for (std::size_t start = 0; start <= path.size();) {
    auto end = std::min(path.find('/', start), path.size());
    if (end > start)
      parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  CHECK(ex.path == parts);
  if (target.find('?') == std::string::npos) {
    CHECK(ex.query.empty());
  } else {
    auto query = target.substr(target.find('?') + 1);
    std::size_t items = 0;
    for (std::size_t pos = 0; pos <= query.size(); ++pos) {
      auto amp = std::min(query.find('&', pos), query.size());
      if (amp > pos) {
        ++items;
        auto item = query.substr(pos, amp - pos);
        CHECK(ex.query.count(item.substr(0, item.find('='))) == 1);
      }
      pos = amp;
    }
    CHECK(ex.query.size() <= items);
    for (auto& [k, v] : ex.query)
      CHECK(k.find_first_of("&=") == std::string::npos && v.find('&') == std::string::npos);
  }

  bool ok = confab::gateway::parse_body(ex);
  const auto& body = ex.call.body;
  // No NUL byte: nlohmann would stop there (see wire::parse_object).
  bool object =
      body.empty() || (body.find('\0') == std::string::npos && json::accept(body) && json::parse(body).is_object());
  CHECK(ok == object);
  if (ok) {
    CHECK(out->replies.empty() && ex.body.is_object());
  } else {
    CHECK(out->replies.size() == 1 && out->replies[0].status == 400);
    CHECK(json::parse(out->replies[0].body).at("error").at("code") == "invalid_request");
  }
}

template <class Request>
api::http_call make_call(const Request& req, bool head) {
  api::http_call call;
  call.method = head ? std::string("GET") : std::string(req.method_string());
  call.target = std::string(req.target());
  call.authorization = std::string(req[http::field::authorization]);
  call.range = std::string(req[http::field::range]);
  call.if_none_match = std::string(req[http::field::if_none_match]);
  call.filename = std::string(req["X-Filename"]);
  call.content_type = std::string(req[http::field::content_type]);
  return call;
}

// The /ws upgrade: Beast's handshake on the request as net/ hands it over.
void upgrade(http::request_parser<http::empty_body>& header, asio::io_context& ioc) {
  http::request<http::string_body> req(std::move(header.release().base()));
  websocket::stream<beast::test::stream> ws(ioc);
  beast::test::stream peer(ioc);
  ws.next_layer().connect(peer);
  ws.read_message_max(settings.max_frame);
  beast::error_code ec;
  ws.accept(req, ec);
  // A refused handshake never answers 101 (Beast may send 100 Continue
  // first, for an Expect header).
  if (ec)
    CHECK(peer.str().find("HTTP/1.1 101") == std::string_view::npos);
  else
    CHECK(peer.str().starts_with("HTTP/1.1 101 "));
}

// A streamed upload: the body read a chunk at a time into a fixed buffer.
// False when the connection ends.
bool read_upload(beast::test::stream& s, beast::flat_buffer& buffer, http::request_parser<http::empty_body>& header) {
  http::request_parser<http::buffer_body> upload(std::move(header));
  upload.body_limit(settings.max_file_size);
  static std::vector<char> chunk(upload_chunk);
  auto keep_alive = upload.get().keep_alive();
  auto declared = upload.content_length();
  auto call = make_call(upload.get(), false);
  call.is_upload = true;
  route_prologue(std::move(call));
  std::uint64_t total = 0;
  std::size_t fill = 0;
  while (!upload.is_done()) {
    auto& body = upload.get().body();
    body.data = chunk.data() + fill;
    body.size = chunk.size() - fill;
    beast::error_code ec;
    http::read_some(s, buffer, upload, ec);
    if (ec == http::error::need_buffer)
      ec = {};
    if (ec)
      return false;  // 413 or a broken body: the connection ends
    auto now = chunk.size() - upload.get().body().size;
    CHECK(now >= fill && now <= chunk.size());
    total += now - fill;
    fill = now == chunk.size() ? 0 : now;
  }
  CHECK(total <= settings.max_file_size);
  CHECK(!declared || *declared == total);
  return keep_alive;
}

// A body read whole, as for every other call. False when the connection ends.
bool read_body(beast::test::stream& s, beast::flat_buffer& buffer, http::request_parser<http::empty_body>& header,
               bool head) {
  http::request_parser<http::string_body> body(std::move(header));
  // A limit set after the header is only applied to chunked bodies by Beast:
  // net/ checks a declared length itself.
  body.body_limit(settings.max_http_body);
  auto declared = body.content_length();
  if (declared && *declared > settings.max_http_body)
    return false;  // 413, then the connection ends
  beast::error_code ec;
  http::read(s, buffer, body, ec);
  if (ec)
    return false;
  auto& req = body.get();
  CHECK(req.body().size() <= settings.max_http_body);
  CHECK(!declared || *declared == req.body().size());
  auto call = make_call(req, head);
  call.body = std::move(req.body());
  route_prologue(std::move(call));
  return req.keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  // Each read returns at most this many bytes, as a socket might.
  auto read_size = in.ConsumeBool() ? SIZE_MAX : in.ConsumeIntegralInRange<std::size_t>(1, 64);
  auto upload_mask = in.ConsumeIntegral<std::uint8_t>();
  auto bytes = in.ConsumeRemainingBytesAsString();

  asio::io_context ioc;
  beast::test::stream s(ioc, bytes);
  s.read_size(read_size);
  s.close_remote();  // the client sends no more: a read past the bytes ends the connection
  beast::flat_buffer buffer;
  for (int n = 0; n < 8; ++n) {
    http::request_parser<http::empty_body> header;
    header.header_limit(16 * 1024);
    header.body_limit(boost::none);  // each body parser sets its own
    beast::error_code ec;
    http::read_header(s, buffer, header, ec);
    if (ec)
      break;
    auto& req = header.get();
    auto target = req.target();
    CHECK(target.substr(0, target.find('?')).find('?') == std::string_view::npos);
    auto head = req.method() == http::verb::head;
    if (websocket::is_upgrade(req)) {
      if (req.target() == "/ws")
        upgrade(header, ioc);
      break;
    }
    bool keep = (upload_mask >> n) & 1 ? read_upload(s, buffer, header) : read_body(s, buffer, header, head);
    if (!keep)
      break;
  }
  return 0;
}
