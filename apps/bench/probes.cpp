#include "apps/bench/probes.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace confab::bench {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

// utime + stime of /proc/<pid>/stat, and the command name.
bool read_stat(const std::string& path, std::string& name, double& cpu) {
  std::ifstream in(path);
  std::string text;
  if (!std::getline(in, text))
    return false;
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos)
    return false;
  name = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  // Fields after the name start at 3 (state); utime is 14 and stime 15.
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  cpu = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return true;
}

}  // namespace

double process_cpu_s(int pid) {
  std::string name;
  double cpu = 0;
  if (pid <= 0 || !read_stat("/proc/" + std::to_string(pid) + "/stat", name, cpu))
    return 0;
  return cpu;
}

std::int64_t process_rss_kib(int pid) {
  if (pid <= 0)
    return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoll(line.substr(6));
  return 0;
}

double self_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

cpu_snapshot snapshot_cpu() {
  cpu_snapshot snap;
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    auto name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
      continue;
    std::string comm;
    double cpu = 0;
    if (read_stat(entry.path().string() + "/stat", comm, cpu))
      snap.by_pid[std::stoi(name)] = {comm, cpu};
  }
  return snap;
}

std::vector<cpu_user> top_cpu(const cpu_snapshot& before, const cpu_snapshot& after, std::size_t n) {
  std::vector<cpu_user> out;
  for (auto& [pid, now] : after.by_pid) {
    auto it = before.by_pid.find(pid);
    double used = now.second - (it == before.by_pid.end() ? 0.0 : it->second.second);
    if (used > 0)
      out.push_back({pid, now.first, used});
  }
  std::sort(out.begin(), out.end(), [](const cpu_user& a, const cpu_user& b) { return a.cpu_s > b.cpu_s; });
  if (out.size() > n)
    out.resize(n);
  return out;
}

std::int64_t percentile(std::vector<std::int64_t>& sample, double p) {
  if (sample.empty())
    return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sample.size())));
  rank = std::clamp<std::size_t>(rank, 1, sample.size()) - 1;
  std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(rank), sample.end());
  return sample[rank];
}

std::uint64_t raise_open_files() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

}  // namespace confab::bench
