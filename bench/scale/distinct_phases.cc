#include "scale/distinct_phases.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "common/progress.h"
#include "scale/phases.h"

namespace certgate::bench::scale {
namespace {

double Ms(double seconds) { return 1000 * seconds; }

// One handshake with the name's SNI: did it serve that name's certificate?
bool Served(const ProbeResult& r, const DistinctCert& cert) {
  return r.ok && r.serial == cert.serial;
}

std::string WhyNot(const ProbeResult& r, const DistinctCert& cert) {
  return r.ok ? cert.name + " served serial " + r.serial + ", not its own" : r.error;
}

void Measure(const ScaleServer& s, const DistinctCert& cert, const TlsProbe& probe,
             HandshakeSamples& out) {
  const double cpu0 = PreciseCpuSeconds(s.pid());
  const ProbeResult r = probe.ProbeAndRequest(s.https_port(), cert.name);
  const double cpu1 = PreciseCpuSeconds(s.pid());
  if (!Served(r, cert)) {
    if (out.failed++ == 0) out.first_error = WhyNot(r, cert);
    return;
  }
  out.cpu_ms.push_back(Ms(cpu1 - cpu0));
  out.wall_ms.push_back(r.handshake_ms);
}

// Runs background() over and over on a second thread until the returned
// guard is done with: what StallCheck's timed handshakes run beside.
class Background {
 public:
  // background returns false when it has nothing more to do.
  explicit Background(std::function<bool()> background)
      : thread_([this, fn = std::move(background)] {
          while (!stop_.load() && fn()) ++count_;
        }) {}
  // Stops the thread; returns how many times background ran.
  int Finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return count_.load();
  }
  ~Background() { Finish(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
  std::thread thread_;
};

}  // namespace

NamePool::NamePool(int first_live, int names, uint64_t seed) {
  for (int i = first_live; i < names - 1; ++i) order_.push_back(static_cast<size_t>(i));
  std::mt19937_64 rng(seed);
  std::shuffle(order_.begin(), order_.end(), rng);
}

std::optional<size_t> NamePool::Take() {
  if (next_ >= order_.size()) return std::nullopt;
  return order_[next_++];
}

ColdResult ColdHandshakes(const ScaleServer& s, const DistinctPki& pki, NamePool& pool, int count,
                          const TlsProbe& probe) {
  ColdResult out;
  for (int i = 0; i < count; ++i) {
    const std::optional<size_t> name = pool.Take();
    if (!name) break;
    out.names.push_back(*name);
    Measure(s, pki.certs[*name], probe, out.cold);
  }
  for (size_t name : out.names) Measure(s, pki.certs[name], probe, out.warm);
  return out;
}

std::vector<StallMode> StallCheck(const ScaleServer& s, const DistinctPki& pki,
                                  const std::vector<size_t>& warm, NamePool& pool, int samples,
                                  int rounds, const TlsProbe& probe) {
  std::vector<StallMode> modes = {{"none"}, {"warm"}, {"cold"}};
  if (warm.size() < 2) return modes;
  const DistinctCert& timed = pki.certs[warm[0]];
  std::atomic<int> background_failed{0};
  auto handshake = [&](size_t name) {
    if (!Served(probe.Probe(s.https_port(), pki.certs[name].name), pki.certs[name])) {
      ++background_failed;
    }
  };
  size_t next_warm = 1;
  std::mutex pool_mu;  // the cold background takes from the pool
  const int per_round = std::max(1, samples / rounds);
  for (int round = 0; round < rounds; ++round) {
    for (StallMode& mode : modes) {
      std::function<bool()> work;
      if (mode.background == "warm") {
        work = [&] {
          handshake(warm[next_warm]);
          next_warm = next_warm + 1 < warm.size() ? next_warm + 1 : 1;
          return true;
        };
      } else if (mode.background == "cold") {
        work = [&] {
          std::optional<size_t> name;
          {
            std::lock_guard lock(pool_mu);
            name = pool.Take();
          }
          if (!name) return false;
          handshake(*name);
          return true;
        };
      }
      background_failed = 0;
      const auto t0 = BenchClock::now();
      std::optional<Background> load;
      if (work) load.emplace(std::move(work));
      for (int i = 0; i < per_round; ++i) {
        const ProbeResult r = probe.Probe(s.https_port(), timed.name);
        if (Served(r, timed)) {
          mode.wall_ms.push_back(r.handshake_ms);
        } else {
          ++mode.failed;
        }
      }
      if (load) mode.background_handshakes += load->Finish();
      mode.wall_s += Seconds(BenchClock::now() - t0);
      mode.failed += background_failed.load();
    }
  }
  return modes;
}

ManyNamesResult HandshakeManyNames(const ScaleServer& s, const DistinctPki& pki,
                                   const std::vector<size_t>& names, int threads, int step,
                                   const TlsProbe& probe) {
  ManyNamesResult out;
  std::atomic<size_t> next{0};
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::mutex points_mu;
  out.points.push_back(RssPoint{0, ReadMemory(s.pid()).rss_kb});
  const double cpu0 = PreciseCpuSeconds(s.pid());
  const auto t0 = BenchClock::now();
  auto work = [&] {
    for (size_t i = next++; i < names.size(); i = next++) {
      const DistinctCert& cert = pki.certs[names[i]];
      if (!Served(probe.Probe(s.https_port(), cert.name), cert)) ++failed;
      const int d = ++done;
      if (d % step == 0) {
        const double rss = ReadMemory(s.pid()).rss_kb;
        std::lock_guard lock(points_mu);
        out.points.push_back(RssPoint{d, rss});
        Progress("  {}: {} names handshaked, VmRSS {:.1f} MB", s.label(), d, rss / 1024);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  out.wall_s = Seconds(BenchClock::now() - t0);
  out.cpu_s = WaitQuiet(s.pid()) - cpu0;
  out.handshaked = done.load();
  out.failed = failed.load();
  std::sort(out.points.begin(), out.points.end(),
            [](const RssPoint& a, const RssPoint& b) { return a.names < b.names; });
  // The reading once the server is quiet is the last point, in place of
  // one taken at the same count while the last handshakes were running.
  const ServerMemory m = ReadMemory(s.pid());
  if (out.points.back().names == out.handshaked) out.points.pop_back();
  out.points.push_back(RssPoint{out.handshaked, m.rss_kb});
  out.hwm_kb = m.hwm_kb;
  return out;
}

}  // namespace certgate::bench::scale
