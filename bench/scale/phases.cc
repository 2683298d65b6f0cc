#include "scale/phases.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "common/proc_stats.h"
#include "common/progress.h"
#include "support/process.h"

namespace certgate::bench::scale {
namespace {

double KbField(const std::string& text, std::string_view field) {
  const size_t pos = text.find(field);
  if (pos == std::string::npos) return 0;
  return std::strtod(text.c_str() + pos + field.size(), nullptr);
}

double Ms(BenchClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

ServerMemory ReadMemory(pid_t pid) {
  const std::string status = testing::ReadFile(fmt::format("/proc/{}/status", pid));
  return ServerMemory{KbField(status, "VmRSS:"), KbField(status, "VmHWM:")};
}

double WaitQuiet(pid_t pid) {
  constexpr auto kWindow = std::chrono::milliseconds(150);
  constexpr double kQuietCpuS = 0.0015;  // 1% of kWindow
  const auto deadline = BenchClock::now() + std::chrono::seconds(20);
  double mark = PreciseCpuSeconds(pid);
  auto mark_at = BenchClock::now();
  double now = mark;
  while (BenchClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    now = PreciseCpuSeconds(pid);
    if (now - mark >= kQuietCpuS) {
      mark = now;
      mark_at = BenchClock::now();
    } else if (BenchClock::now() - mark_at >= kWindow) {
      break;
    }
  }
  return now;
}

double ChangeToServed(Subject& s, const ScalePki& pki, const TlsProbe& probe) {
  const int k = s.next_change++;
  const size_t leaf = static_cast<size_t>(k) % pki.changes.size();
  const std::string name = fmt::format("c{:07}.{}", k, kChangeParent);
  s.api->CreateDomain(name, s.server->data().change_ids[leaf]);
  const auto created = BenchClock::now();
  const auto deadline = created + std::chrono::seconds(30);
  while (BenchClock::now() < deadline) {
    const ProbeResult r = probe.Probe(s.server->https_port(), name);
    if (r.ok && r.serial == pki.changes[leaf].serial) return Ms(BenchClock::now() - created);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return -1;
}

Burst ChangeBurst(Subject& s, int changes) {
  Burst b;
  b.changes = changes;
  const pid_t pid = s.server->pid();
  const int creates = (changes + 1) / 2;
  std::vector<std::string> ids;
  ids.reserve(static_cast<size_t>(creates));
  const auto& certs = s.server->data().change_ids;
  const double cpu0 = PreciseCpuSeconds(pid);
  const auto t0 = BenchClock::now();
  for (int i = 0; i < creates; ++i) {
    const int k = s.next_change++;
    ids.push_back(s.api->CreateDomain(fmt::format("c{:07}.{}", k, kChangeParent),
                                      certs[static_cast<size_t>(k) % certs.size()]));
  }
  const std::vector<std::string>& loaded = s.server->data().loaded_ids;
  for (size_t i = 0; i < static_cast<size_t>(changes - creates); ++i) {
    if (s.next_loaded_delete < loaded.size()) {
      s.api->DeleteDomain(loaded[s.next_loaded_delete++]);
    } else {
      s.api->DeleteDomain(ids[i]);
    }
  }
  s.changes_deleted += changes - creates;
  b.wall_s = Seconds(BenchClock::now() - t0);
  b.cpu_s = WaitQuiet(pid) - cpu0;
  return b;
}

CreateRound ConcurrentCreates(Subject& s, int clients, int creates) {
  CreateRound round;
  round.creates = creates;
  const pid_t pid = s.server->pid();
  std::vector<std::unique_ptr<ApiConnection>> connections;
  for (int c = 0; c < clients; ++c) {
    connections.push_back(
        std::make_unique<ApiConnection>(s.server->api_url(), s.server->data().api_key));
  }
  const std::string& wildcard = s.server->data().wildcard_id;
  const int first = s.next_create;
  s.next_create += creates;
  std::atomic<int> next{0};
  std::mutex error_mu;
  std::string error;
  auto work = [&](ApiConnection& api) {
    for (int i = next++; i < creates; i = next++) {
      try {
        api.CreateDomain(fmt::format("a{:07}.bench.example", first + i), wildcard);
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mu);
        if (error.empty()) error = e.what();
        return;
      }
    }
  };
  const double cpu0 = PreciseCpuSeconds(pid);
  const auto t0 = BenchClock::now();
  std::vector<std::thread> threads;
  for (auto& api : connections) threads.emplace_back(work, std::ref(*api));
  for (auto& t : threads) t.join();
  round.wall_s = Seconds(BenchClock::now() - t0);
  round.cpu_s = WaitQuiet(pid) - cpu0;
  if (!error.empty()) s.server->Failed("concurrent creates: " + error);
  return round;
}

DnsRound DnsNxdomain(Subject& s, const DnsLoadSpec& spec, std::mt19937_64& rng) {
  DnsRound round;
  const pid_t pid = s.server->pid();
  const double cpu0 = PreciseCpuSeconds(pid);
  DnsLoadSpec with_port = spec;
  with_port.port = s.server->dns_port();
  round.load = RunDnsLoad(with_port, rng);
  round.cpu_s = WaitQuiet(pid) - cpu0;
  return round;
}

}  // namespace certgate::bench::scale
