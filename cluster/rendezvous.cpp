#include "cluster/rendezvous.hpp"

#include <algorithm>
#include <numeric>

namespace confab::cluster {

namespace {

// FNV-1a over the bytes, then a splitmix64 finaliser: FNV alone mixes the
// last bytes poorly, and node ids often differ only there.
std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

std::uint64_t fnv(std::string_view s, std::uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::uint64_t rendezvous_weight(std::string_view key, std::string_view node) {
  auto h = fnv(key, 0xcbf29ce484222325ULL);
  h = fnv(std::string_view("\0", 1), h);  // key and node stay apart: "ab"+"c" is not "a"+"bc"
  return mix(fnv(node, h));
}

std::size_t rendezvous_owner(std::string_view key, const std::vector<std::string>& nodes) {
  std::size_t best = 0;
  std::uint64_t best_w = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto w = rendezvous_weight(key, nodes[i]);
    if (i == 0 || w > best_w || (w == best_w && nodes[i] < nodes[best])) {
      best = i;
      best_w = w;
    }
  }
  return best;
}

std::vector<std::size_t> rendezvous_rank(std::string_view key, const std::vector<std::string>& nodes) {
  std::vector<std::size_t> order(nodes.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::uint64_t> w(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i)
    w[i] = rendezvous_weight(key, nodes[i]);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return w[a] != w[b] ? w[a] > w[b] : nodes[a] < nodes[b]; });
  return order;
}

namespace {

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

namespace {

copy_change wanted_change(std::string_view key, const std::vector<std::string>& copies,
                          const std::vector<std::string>& live, const std::vector<std::string>& down,
                          const std::vector<std::string>& leaving, std::size_t n) {
  auto members = live;
  members.insert(members.end(), down.begin(), down.end());
  // A copy in no list is a member this node has not heard of (it restarted,
  // or joined, while that one was down): it counts as down. Only a remove
  // (leaving) takes a node out of the sets it is in.
  for (auto& name : copies)
    if (!has(members, name) && !has(leaving, name))
      members.push_back(name);
  auto room = std::min(n, members.size());  // copies the cluster allows
  std::vector<std::string> wanted;
  for (auto i : rendezvous_rank(key, members))
    if (wanted.size() < room)
      wanted.push_back(members[i]);
  // The first wanted live member the set lacks.
  std::string in;
  for (auto& name : wanted)
    if (in.empty() && has(live, name) && !has(copies, name))
      in = name;
  // The copy that ranks last among those not wanted.
  auto unwanted = [&] {
    std::string last;
    for (auto i : rendezvous_rank(key, copies))
      if (!has(wanted, copies[i]))
        last = copies[i];
    return last;
  };
  for (auto& name : copies) {
    if (!has(leaving, name))
      continue;
    auto kept = std::count_if(copies.begin(), copies.end(), [&](auto& c) { return !has(leaving, c); });
    if (static_cast<std::size_t>(kept) >= n)
      return {name, ""};  // a change cut short after its newcomer joined
    for (auto i : rendezvous_rank(key, live))
      if (in.empty() && !has(copies, live[i]))
        in = live[i];
    return {name, in};
  }
  if (copies.size() > n)
    return {unwanted(), ""};
  if (in.empty())
    return {};
  if (copies.size() < room)
    return {"", in};
  return {unwanted(), in};
}

}  // namespace

copy_change next_copy_change(std::string_view key, const std::vector<std::string>& copies,
                             const std::vector<std::string>& live, const std::vector<std::string>& down,
                             const std::vector<std::string>& leaving, std::size_t n) {
  auto change = wanted_change(key, copies, live, down, leaving, n);
  // A change whose set would have no live majority would stop the room
  // (nothing commits until enough come back): it waits instead.
  auto after = copies;
  if (!change.in.empty())
    after.push_back(change.in);
  if (!change.out.empty())
    after.erase(std::find(after.begin(), after.end(), change.out));
  auto up = std::count_if(after.begin(), after.end(), [&](auto& c) { return has(live, c); });
  if (static_cast<std::size_t>(up) * 2 <= after.size())
    return {};
  return change;
}

std::string room_key(std::string_view room) {
  return "room/" + std::string(room);
}

std::string account_key(std::string_view username) {
  return "account/" + std::string(username);
}

std::string presence_key(std::string_view user) {
  return "presence/" + std::string(user);
}

std::string file_key(std::string_view file) {
  return "file/" + std::string(file);
}

}  // namespace confab::cluster
