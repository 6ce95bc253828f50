#include "api/probe.hpp"

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "api/clock.hpp"
#include "api/errors.hpp"

namespace confab::api {

void log_stray_errors(caf::scheduled_actor* self, const char* who) {
  self->set_error_handler([self, who = std::string(who)](caf::error& err) {
    auto from = self->current_sender();
    spdlog::warn("{}: dropped an error nobody asked for: {} (from actor {})", who, caf::to_string(err),
                 from ? std::to_string(from->id()) : std::string("?"));
  });
}

std::uint64_t actor_probe::mailbox() const {
  auto in = enqueued.load(std::memory_order_relaxed);
  auto out = processed.load(std::memory_order_relaxed);
  return in > out ? in - out : 0;
}

void actor_probe::set_text(std::string user_id, std::string text) {
  std::lock_guard guard{mtx_};
  user_id_ = std::move(user_id);
  text_ = std::move(text);
}

std::pair<std::string, std::string> actor_probe::text() const {
  std::lock_guard guard{mtx_};
  return {user_id_, text_};
}

void actor_index::add(probe_ptr p) {
  std::lock_guard guard{mtx_};
  ++counts_[p->kind];
  live_.emplace(p.get(), std::move(p));
}

void actor_index::remove(const actor_probe* p) {
  std::lock_guard guard{mtx_};
  if (live_.erase(p) > 0)
    --counts_[p->kind];
}

std::vector<probe_ptr> actor_index::all() const {
  std::lock_guard guard{mtx_};
  std::vector<probe_ptr> out;
  out.reserve(live_.size());
  for (auto& [_, p] : live_)
    out.push_back(p);
  return out;
}

std::map<std::string, std::uint64_t> actor_index::counts() const {
  std::lock_guard guard{mtx_};
  return counts_;
}

std::uint64_t actor_index::count(const std::string& kind) const {
  std::lock_guard guard{mtx_};
  auto i = counts_.find(kind);
  return i == counts_.end() ? 0 : i->second;
}

probe_ptr actor_index::find(const std::string& kind, const std::string& id) const {
  std::lock_guard guard{mtx_};
  for (auto& [_, p] : live_)
    if (p->kind == kind && p->id == id)
      return p;
  return nullptr;
}

probe_ptr make_probe() {
  auto p = std::make_shared<actor_probe>();
  p->since = now_ms();
  p->last_active.store(p->since, std::memory_order_relaxed);
  return p;
}

void count_enqueued(actor_probe& p) {
  p.enqueued.fetch_add(1, std::memory_order_relaxed);
}

void count_consumed(actor_probe& p) {
  p.processed.fetch_add(1, std::memory_order_relaxed);
  p.last_active.store(now_ms(), std::memory_order_relaxed);
}

void list_probe(caf::scheduled_actor& self, const probe_ptr& p, const std::shared_ptr<actor_index>& index,
                std::string kind, std::string id) {
  p->kind = std::move(kind);
  p->id = std::move(id);
  p->addr = self.address();
  index->add(p);
  self.attach_functor([index, raw = p.get()] { index->remove(raw); });
  // Every listed actor may be reached from other nodes: what it does not
  // understand is counted and dropped, never printed message by message.
  self.set_default_handler(drop_unexpected);
}

std::string detail(const actor_probe& p) {
  auto n = [](const std::atomic<std::uint64_t>& a) { return std::to_string(a.load(std::memory_order_relaxed)); };
  auto text = p.text().second;
  if (p.kind == "room")
    return "members=" + n(p.n1) + " seq=" + n(p.n2) + (text.empty() ? "" : " name=" + text);
  if (p.kind == "session") {
    std::uint64_t queued = 0;
    if (auto s = p.sink.lock())
      queued = s->queued_bytes();
    return "user=" + (text.empty() ? std::string("-") : text) + " remote=" + p.remote +
           " queue=" + std::to_string(queued) + "B";
  }
  if (p.kind == "presence")
    return text + " sessions=" + n(p.n1) + " watchers=" + n(p.n2);
  return text;
}

namespace {

actor_info info_of(const actor_probe& p, const std::string& node) {
  return {p.id,
          p.kind,
          node,
          p.mailbox(),
          p.processed.load(std::memory_order_relaxed),
          p.since,
          p.last_active.load(std::memory_order_relaxed),
          detail(p)};
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

bool known_sort(const std::string& sort) {
  return sort == "mailbox" || sort == "processed" || sort == "last_active" || sort == "since" || sort == "id";
}

void sort_actors(std::vector<actor_info>& list, const std::string& sort) {
  auto key = [&sort](const actor_info& a) -> std::int64_t {
    if (sort == "mailbox")
      return static_cast<std::int64_t>(a.mailbox);
    if (sort == "processed")
      return static_cast<std::int64_t>(a.processed);
    if (sort == "last_active")
      return a.last_active;
    if (sort == "since")
      return a.since;
    return 0;
  };
  std::stable_sort(list.begin(), list.end(), [&](const actor_info& a, const actor_info& b) {
    auto ka = key(a), kb = key(b);
    if (ka != kb)
      return ka > kb;
    return std::tie(a.id, a.node, a.kind) < std::tie(b.id, b.node, b.kind);
  });
}

actor_page list_actors(const actor_index& index, const std::string& node, const actor_query& q) {
  actor_page page;
  for (auto& p : index.all()) {
    if (p->kind.empty() || (!q.kind.empty() && p->kind != q.kind))
      continue;
    auto info = info_of(*p, node);
    if (!q.text.empty() && lower(info.id).find(q.text) == std::string::npos &&
        lower(info.detail).find(q.text) == std::string::npos)
      continue;
    page.actors.push_back(std::move(info));
  }
  page.total = page.actors.size();
  sort_actors(page.actors, q.sort);
  if (page.actors.size() > q.limit)
    page.actors.resize(q.limit);
  return page;
}

std::vector<actor_info> sessions_of(const actor_index& index, const std::string& node, const std::string& user_id) {
  std::vector<actor_info> out;
  for (auto& p : index.all())
    if (p->kind == "session" && p->text().first == user_id) {
      auto info = info_of(*p, node);
      info.detail = p->remote;
      out.push_back(std::move(info));
    }
  sort_actors(out, "since");
  return out;
}

}  // namespace confab::api
