// Metrics for Prometheus: counters, gauges and histograms kept in atomics,
// so that a hot path (a handshake, a request) pays one relaxed atomic add,
// and rendered in Prometheus' text exposition format (version 0.0.4) when
// scraped. A family is one name, help text, type and set of label names;
// each distinct set of label values is one series, made on first use and
// kept for the registry's life (hot paths look theirs up once and keep the
// reference). Values that live elsewhere (rows in the store, a cache's
// size) come from collectors: functions the registry calls at each scrape.
//
// Names follow Prometheus' conventions: certgate_ prefix, base units
// (seconds, bytes), _total for counters. Label values are escaped when
// rendered; names are constants of the code, checked by ValidMetricName /
// ValidLabelName in the tests of the code that registers them.
//
// Thread-safe: series are updated from any thread, families and collectors
// are added before the registry is shared, and Render may run at any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certgate::metrics {

enum class Type { kCounter, kGauge, kHistogram };

bool ValidMetricName(std::string_view name);  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool ValidLabelName(std::string_view name);   // [a-zA-Z_][a-zA-Z0-9_]*, not __*

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // bounds: the buckets' upper bounds, ascending (+Inf is implied).
  explicit Histogram(std::span<const double> bounds);
  void Observe(double v);

  struct Counts {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Counts Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bounds for latencies in seconds, from 0.5 ms to 10 s.
std::span<const double> LatencyBounds();

// One family's series by label values.
template <class M>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<M>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  // The series for these label values (as many as the family's label names),
  // made on first use; the reference stays valid.
  M& With(std::vector<std::string> values) {
    std::lock_guard lock(mu_);
    auto it = series_.find(values);
    if (it == series_.end()) it = series_.emplace(std::move(values), make_()).first;
    return *it->second;
  }
  // The series without labels.
  M& Get() { return With({}); }

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls fn(values, series) for every series, in label order.
  template <class F>
  void ForEach(F&& fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [values, m] : series_) fn(values, *m);
  }

 private:
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> series_;  // GUARDED_BY(mu_)
};

// A sample a collector gives: label name/value pairs and a value.
struct Sample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

class Registry {
 public:
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> labels,
                                  std::span<const double> bounds = LatencyBounds());
  // A counter or gauge family whose samples collect gives at each scrape.
  // It runs on the scraping thread and should be quick (or read a cache).
  void AddCollector(std::string name, std::string help, Type type,
                    std::function<std::vector<Sample>()> collect);

  // Every family, in the order added, in the text exposition format.
  std::string Render() const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    Type type;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
    std::function<std::vector<Sample>()> collect;
  };
  Entry& Add(std::string name, std::string help, Type type);

  std::vector<std::unique_ptr<Entry>> entries_;
};

// The media type of Render's output.
inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace certgate::metrics
