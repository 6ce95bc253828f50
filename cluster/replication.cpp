#include "cluster/replication.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "api/errors.hpp"

namespace confab::cluster::replication {

// -- copy-set changes ----------------------------------------------------------------

entry copies_entry(const std::vector<std::string>& copies) {
  entry e;
  e.key = copies_key;
  for (auto& name : copies)
    e.payload += name + '\n';
  return e;
}

bool is_copies(const entry& e) {
  return e.key == copies_key;
}

std::vector<std::string> copies_of(const entry& e) {
  std::vector<std::string> out;
  std::string_view rest = e.payload;
  for (auto nl = rest.find('\n'); nl != std::string_view::npos; nl = rest.find('\n')) {
    out.emplace_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  return out;
}

// -- copy ------------------------------------------------------------------------

copy::copy(std::shared_ptr<log_store> disk, epoch promised, std::uint64_t committed, std::vector<entry> log,
           std::vector<std::string> copies, std::uint64_t kept)
    : disk_(std::move(disk)), promised_(std::move(promised)), kept_(kept) {
  sets_.front().second = std::move(copies);
  for (auto& e : log)
    push(std::move(e));
  committed_ = std::min<std::uint64_t>(committed, last_index());
  trim();
}

void copy::push(entry e) {
  if (epochs_.empty() || epochs_.back().first != e.by)
    epochs_.emplace_back(e.by, e.index);
  if (is_copies(e))
    sets_.emplace_back(e.index, copies_of(e));
  log_.push_back(std::move(e));
}

caf::error copy::sets_changed(const std::vector<std::string>& before) {
  if (copies() == before || !disk_)
    return caf::none;
  return disk_->save_state(promised_, committed_, copies());
}

void copy::trim() {
  if (!disk_)
    return;
  while (!log_.empty() && log_.front().index + kept_ <= committed_) {
    log_.pop_front();
    ++base_;
  }
}

caf::error copy::promise(const epoch& e) {
  if (e == promised_)
    return caf::none;
  auto old = std::exchange(promised_, e);
  if (disk_)
    if (auto err = disk_->save_state(promised_, committed_, copies())) {
      promised_ = std::move(old);
      return err;
    }
  return caf::none;
}

position copy::last() const {
  return {epoch_at(last_index()), last_index()};
}

epoch copy::epoch_at(std::uint64_t index) const {
  if (index == 0 || index > last_index())
    return {};
  if (index > base_)
    return log_[index - base_ - 1].by;
  auto it = std::upper_bound(epochs_.begin(), epochs_.end(), index,
                             [](std::uint64_t i, const std::pair<epoch, std::uint64_t>& x) { return i < x.second; });
  return it == epochs_.begin() ? epoch{} : std::prev(it)->first;
}

entry copy::at(std::uint64_t index) const {
  auto one = range(index - 1, 1);
  return one.empty() ? entry{} : std::move(one.front());
}

std::vector<entry> copy::range(std::uint64_t after, std::size_t max) const {
  std::vector<entry> out;
  if (after < base_ && max > 0) {
    auto older = disk_->read(after, std::min<std::uint64_t>(max, base_ - after));
    if (!older || older->size() != std::min<std::uint64_t>(max, base_ - after))
      return out;  // a failed read is no entry, not a gap
    out = std::move(*older);
    after = base_;
  }
  for (auto i = after; i < last_index() && out.size() < max; ++i)
    out.push_back(log_[i - base_]);
  return out;
}

caf::expected<prepare_reply> copy::on_prepare(const epoch& e) {
  if (e < promised_)
    return prepare_reply{false, promised_, last(), committed_, copies()};
  if (auto err = promise(e))
    return err;
  return prepare_reply{true, promised_, last(), committed_, copies()};
}

void copy::truncate_after(std::uint64_t index) {
  // Safety rests on never removing a committed entry: a violation of the
  // rules is a bug, not an input to carry on from. (Entries on disk only are
  // committed: base_ is below the commit point.)
  if (index < committed_ || index < base_)
    throw std::logic_error("replication: truncating a committed entry");
  if (index >= last_index())
    return;
  synced_ = std::min(synced_, index);
  truncated_ += last_index() - index;
  log_.resize(index - base_);
  while (!epochs_.empty() && epochs_.back().second > index)
    epochs_.pop_back();
  while (sets_.back().first > index)
    sets_.pop_back();
}

caf::expected<append_reply> copy::on_append(const append_request& req) {
  if (req.by < promised_)
    return append_reply{false, promised_, 0};
  if (auto err = promise(req.by))
    return err;
  // Log matching: the entry before the batch must be the owner's.
  if (req.prev_index > last_index())
    return append_reply{false, promised_, last_index() + 1};
  if (req.prev_index > 0 && epoch_at(req.prev_index) != req.prev_epoch) {
    // Send from the first entry of the epoch that differs, never from
    // before what is committed (that is the same everywhere).
    auto differs = epoch_at(req.prev_index);
    auto from = req.prev_index;
    while (from > committed_ + 1 && epoch_at(from - 1) == differs)
      --from;
    return append_reply{false, promised_, from};
  }
  // What changes: the entries from the first that is new or differs.
  auto index = req.prev_index;
  std::uint64_t cut = UINT64_MAX;
  std::vector<entry> fresh;
  for (auto& e : req.entries) {
    if (e.index != index + 1)
      break;  // not contiguous: take what is, the owner sends the rest again
    ++index;
    if (fresh.empty() && index <= last_index()) {
      if (epoch_at(index) == e.by)
        continue;  // already here (a batch sent twice)
      cut = index - 1;
    }
    fresh.push_back(e);
  }
  if (cut != UINT64_MAX && cut < committed_)
    throw std::logic_error("replication: truncating a committed entry");
  if (!fresh.empty()) {
    if (disk_)
      if (auto err = disk_->save_entries(cut, fresh))
        return err;
    auto set_at = copies();
    if (cut != UINT64_MAX)
      truncate_after(cut);
    taken_ += fresh.size();
    for (auto& e : fresh)
      push(std::move(e));
    if (auto err = sets_changed(set_at))
      return err;
  }
  commit(std::min(req.committed, index));
  return append_reply{true, promised_, index};
}

caf::expected<std::uint64_t> copy::append_local(std::string key, std::string payload) {
  std::vector<std::pair<std::string, std::string>> one;
  one.emplace_back(std::move(key), std::move(payload));
  return append_local(std::move(one));
}

caf::expected<std::uint64_t> copy::append_local(std::vector<std::pair<std::string, std::string>> items) {
  std::vector<entry> fresh;
  fresh.reserve(items.size());
  for (auto& [key, payload] : items)
    fresh.push_back(entry{promised_, last_index() + fresh.size() + 1, std::move(key), std::move(payload)});
  if (disk_)
    if (auto err = disk_->save_entries(UINT64_MAX, fresh))
      return err;
  auto set_at = copies();
  for (auto& e : fresh)
    push(std::move(e));
  if (auto err = sets_changed(set_at))
    return err;
  return last_index();
}

caf::error copy::adopt(std::uint64_t after, std::vector<entry> tail) {
  after = std::min<std::uint64_t>(after, last_index());
  for (std::size_t i = 0; i < tail.size(); ++i)
    if (tail[i].index != after + i + 1)
      return api::fail(api::errc::internal, "replication: a tail that is not contiguous");
  if (disk_)
    if (auto err = disk_->save_entries(after, tail))
      return err;
  auto set_at = copies();
  truncate_after(after);
  for (auto& e : tail)
    push(std::move(e));
  return sets_changed(set_at);
}

void copy::commit(std::uint64_t index) {
  committed_ = std::max(committed_, std::min<std::uint64_t>(index, last_index()));
  trim();
}

// -- owner -------------------------------------------------------------------------

owner::owner(epoch e, std::vector<std::string> followers, const copy& local) : epoch_(std::move(e)) {
  // Raft's nextIndex: start after the owner's log; refusals walk it back.
  for (auto& f : followers)
    followers_[f] = progress{local.last_index() + 1, 0, 0, 0, false};
}

std::size_t owner::majority() const {
  std::size_t voters = 1;  // this node
  for (auto& [name, p] : followers_)
    voters += p.voter ? 1 : 0;
  return voters / 2 + 1;
}

std::vector<std::string> owner::followers() const {
  std::vector<std::string> out;
  for (auto& [name, p] : followers_)
    out.push_back(name);
  return out;
}

void owner::learn(const std::string& node, const copy& local) {
  // Its first batch carries the owner's last entry, so that even in an idle
  // room it answers where its log ends.
  if (followers_.count(node) == 0)
    followers_[node] = progress{std::max<std::uint64_t>(1, local.last_index()), 0, 0, 0, false, false};
}

void owner::forget_learner(const std::string& node) {
  auto it = followers_.find(node);
  if (it != followers_.end() && !it->second.voter)
    followers_.erase(it);
}

void owner::follow(const std::vector<std::string>& copies, const std::string& self, const copy& local) {
  for (auto& [name, p] : followers_)
    if (std::find(copies.begin(), copies.end(), name) == copies.end())
      p.voter = false;
  for (auto& name : copies) {
    if (name == self)
      continue;
    auto [it, fresh] = followers_.try_emplace(name, progress{local.last_index() + 1, 0, 0, 0, false, true});
    it->second.voter = true;
  }
}

std::uint64_t owner::match(const std::string& node) const {
  auto it = followers_.find(node);
  return it == followers_.end() ? 0 : it->second.match;
}

std::uint64_t owner::told(const std::string& node) const {
  auto it = followers_.find(node);
  return it == followers_.end() ? 0 : it->second.told;
}

std::optional<append_request> owner::batch_for(const std::string& follower, const copy& local, std::size_t max) {
  auto it = followers_.find(follower);
  if (it == followers_.end())
    return std::nullopt;
  auto& p = it->second;
  // A follower that has every entry is still told a new commit point: a
  // batch with no entries.
  bool behind = p.next <= local.last_index() || p.told < local.committed();
  if (p.waiting || !behind)
    return std::nullopt;
  append_request req{epoch_, p.next - 1, local.epoch_at(p.next - 1), local.range(p.next - 1, max), local.committed()};
  p.waiting = true;
  p.telling = req.committed;
  return req;
}

void owner::lost(const std::string& follower) {
  if (auto it = followers_.find(follower); it != followers_.end())
    it->second.waiting = false;
}

bool owner::on_reply(const std::string& follower, const append_reply& reply) {
  if (epoch_ < reply.promised)
    return false;
  auto it = followers_.find(follower);
  if (it == followers_.end())
    return true;
  auto& p = it->second;
  p.waiting = false;
  if (reply.ok) {
    p.match = std::max(p.match, reply.index);
    p.next = p.match + 1;
    p.told = std::max(p.told, std::min(p.telling, p.match));
  } else {
    p.next = std::max<std::uint64_t>(1, std::min(p.next - 1, reply.index));
    p.next = std::max(p.next, p.match + 1);
  }
  return true;
}

std::uint64_t owner::commit_point(const copy& local) const {
  for (auto n = local.last_index(); n > local.committed(); --n) {
    if (local.epoch_at(n) != epoch_)
      break;                                            // rule 2: only an entry of this epoch commits by counting
    std::size_t holders = n <= local.synced() ? 1 : 0;  // this node, once durable
    for (auto& [name, p] : followers_)
      holders += p.voter && p.match >= n ? 1 : 0;
    if (holders >= majority())
      return n;
  }
  return local.committed();
}

// -- takeover ------------------------------------------------------------------------

takeover::takeover(epoch e, std::vector<std::string> copies) : epoch_(std::move(e)), copies_(std::move(copies)) {}

bool takeover::on_reply(const std::string& from, const prepare_reply& reply) {
  if (!reply.ok || epoch_ < reply.promised) {
    newer_ = std::max(newer_, reply.promised);
    return false;
  }
  promises_[from] = reply;
  return true;
}

const std::vector<std::string>& takeover::copies() const {
  auto it = promises_.find(best());
  return it == promises_.end() || it->second.copies.empty() ? copies_ : it->second.copies;
}

bool takeover::has_majority() const {
  auto& set = copies();
  if (std::find(set.begin(), set.end(), epoch_.node) == set.end())
    return false;  // not a copy any more: it cannot own the room
  std::size_t promised = 0;
  for (auto& name : set)
    promised += promises_.count(name);
  return promised >= set.size() / 2 + 1;
}

std::vector<std::string> takeover::to_ask() {
  std::vector<std::string> out;
  for (auto& name : copies())
    if (std::find(asked_.begin(), asked_.end(), name) == asked_.end()) {
      asked_.push_back(name);
      out.push_back(name);
    }
  return out;
}

std::string takeover::best() const {
  std::string out = epoch_.node;
  auto mine = promises_.find(epoch_.node);
  position top = mine != promises_.end() ? mine->second.last : position{};
  for (auto& [name, r] : promises_)
    if (top < r.last) {
      top = r.last;
      out = name;
    }
  return out;
}

position takeover::best_last() const {
  position top;
  for (auto& [name, r] : promises_)
    top = std::max(top, r.last);
  return top;
}

std::uint64_t takeover::committed() const {
  std::uint64_t top = 0;
  for (auto& [name, r] : promises_)
    top = std::max(top, r.committed);
  return top;
}

}  // namespace confab::cluster::replication
