#include "gateway/http_exchange.hpp"

#include <cctype>

#include <spdlog/spdlog.h>

#include "api/metrics.hpp"
#include "wire/codec.hpp"

namespace confab::gateway {

using api::errc;
using api::fail;

void exchange::respond_error(const caf::error& err, unsigned status) const {
  auto f = api::describe(err);
  // HTTP has no not_member code: the contract answers non-members 403 forbidden.
  if (f.code == errc::not_member)
    f.code = errc::forbidden;
  auto& m = api::node_metrics();
  m.error(f.code);
  if (f.code == errc::rate_limited)
    m.rate_limited_http.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("req={} error {}: {}", call.request_id, api::code_name(f.code), f.message);
  api::http_reply r;
  r.status = status != 0 ? status : api::http_status(f.code);
  r.body = wire::http_error(f);
  if (f.retry_after_ms > 0)
    r.headers.emplace_back("Retry-After", std::to_string((f.retry_after_ms + 999) / 1000));
  out->respond(std::move(r));
}

void exchange::bad(const std::string& why) const {
  respond_error(fail(errc::invalid_request, why));
}

std::string url_decode(const std::string& s, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void split_target(exchange& ex) {
  auto& target = ex.call.target;
  auto q = target.find('?');
  std::string path = target.substr(0, q);
  std::size_t start = 0;  // not 1: Beast accepts targets that do not start with '/'
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos)
      end = path.size();
    if (end > start)
      ex.path.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (q == std::string::npos)
    return;
  std::string query = target.substr(q + 1);
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    if (amp == std::string::npos)
      amp = query.size();
    auto item = query.substr(pos, amp - pos);
    auto eq = item.find('=');
    if (!item.empty())
      ex.query[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    pos = amp + 1;
  }
}

exchange_ptr open_exchange(api::http_call call, api::responder_ptr out) {
  auto ex = std::make_shared<exchange>();
  ex->call = std::move(call);
  ex->out = std::move(out);
  split_target(*ex);
  return ex;
}

bool parse_body(exchange& ex) {
  auto body = wire::request_body::parse(ex.call.body);
  if (!body) {
    ex.respond_error(body.error());
    return false;
  }
  ex.body = std::move(*body);
  return true;
}

}  // namespace confab::gateway
