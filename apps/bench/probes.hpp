#pragma once

// Readings the bench takes of processes and of itself: a server's CPU time
// and RSS from /proc, the busiest processes of the machine, percentiles.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace confab::bench {

[[nodiscard]] std::int64_t now_ns();                  // steady clock
[[nodiscard]] double process_cpu_s(int pid);          // user + system; 0 if unreadable
[[nodiscard]] std::int64_t process_rss_kib(int pid);  // VmRSS; 0 if unreadable
[[nodiscard]] double self_cpu_s();

// CPU seconds of every process, by pid, with its name.
struct cpu_snapshot {
  std::map<int, std::pair<std::string, double>> by_pid;
};
[[nodiscard]] cpu_snapshot snapshot_cpu();
struct cpu_user {
  int pid;
  std::string name;
  double cpu_s;
};
// The `n` processes that used the most CPU between two snapshots.
[[nodiscard]] std::vector<cpu_user> top_cpu(const cpu_snapshot& before, const cpu_snapshot& after, std::size_t n);

// Percentile (0-100) of an unsorted sample; sorts it. 0 when empty.
[[nodiscard]] std::int64_t percentile(std::vector<std::int64_t>& sample, double p);

// Raises the open-files limit to the hard limit; returns the new soft limit.
std::uint64_t raise_open_files();

}  // namespace confab::bench
