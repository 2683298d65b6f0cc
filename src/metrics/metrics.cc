#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace certgate::metrics {
namespace {

constexpr double kLatencyBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};

bool NameChar(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

// A value as Prometheus reads it: integers without a fraction, +Inf, -Inf
// and NaN spelled as it spells them, and otherwise the shortest text that
// reads back as the same double.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

// Label values escape \, " and newline; HELP text escapes \ and newline.
std::string Escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string LabelText(const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    out += Escape(labels[i].second, true);
    out += '"';
  }
  out += '}';
  return out;
}

std::vector<std::pair<std::string, std::string>> Zip(const std::vector<std::string>& names,
                                                     const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out.emplace_back(names[i], values[i]);
  }
  return out;
}

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

bool ValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!NameChar(name[i], i == 0, true)) return false;
  }
  return true;
}

bool ValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!NameChar(name[i], i == 0, false)) return false;
  }
  return true;
}

std::span<const double> LatencyBounds() { return kLatencyBounds; }

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // The first bucket whose bound holds v; the last (+Inf) otherwise.
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Counts Histogram::Read() const {
  Counts counts;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    counts.cumulative.push_back(running);
  }
  counts.count = running;
  counts.sum = sum_.load(std::memory_order_relaxed);
  return counts;
}

Registry::Entry& Registry::Add(std::string name, std::string help, Type type) {
  auto entry = std::make_unique<Entry>();
  entry->name = std::move(name);
  entry->help = std::move(help);
  entry->type = type;
  entries_.push_back(std::move(entry));
  return *entries_.back();
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  Entry& e = Add(std::move(name), std::move(help), Type::kCounter);
  e.counters = std::make_unique<Family<Counter>>(std::move(labels),
                                                 [] { return std::make_unique<Counter>(); });
  return *e.counters;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  Entry& e = Add(std::move(name), std::move(help), Type::kGauge);
  e.gauges = std::make_unique<Family<Gauge>>(std::move(labels),
                                             [] { return std::make_unique<Gauge>(); });
  return *e.gauges;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> labels,
                                          std::span<const double> bounds) {
  Entry& e = Add(std::move(name), std::move(help), Type::kHistogram);
  std::vector<double> kept(bounds.begin(), bounds.end());
  e.histograms = std::make_unique<Family<Histogram>>(
      std::move(labels), [kept] { return std::make_unique<Histogram>(kept); });
  return *e.histograms;
}

void Registry::AddCollector(std::string name, std::string help, Type type,
                            std::function<std::vector<Sample>()> collect) {
  Add(std::move(name), std::move(help), type).collect = std::move(collect);
}

std::string Registry::Render() const {
  std::string out;
  for (const auto& e : entries_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", e->name, Escape(e->help, false), e->name,
                       TypeName(e->type));
    const auto line = [&](std::string_view suffix,
                          const std::vector<std::pair<std::string, std::string>>& labels,
                          double value) {
      out += e->name;
      out += suffix;
      out += LabelText(labels);
      out += ' ';
      out += FormatValue(value);
      out += '\n';
    };
    if (e->counters) {
      e->counters->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
        line("", Zip(e->counters->label_names(), values), static_cast<double>(c.value()));
      });
    } else if (e->gauges) {
      e->gauges->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
        line("", Zip(e->gauges->label_names(), values), g.value());
      });
    } else if (e->histograms) {
      e->histograms->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
        const auto labels = Zip(e->histograms->label_names(), values);
        const Histogram::Counts counts = h.Read();
        for (size_t i = 0; i < counts.cumulative.size(); ++i) {
          auto with_le = labels;
          with_le.emplace_back("le", i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf");
          line("_bucket", with_le, static_cast<double>(counts.cumulative[i]));
        }
        line("_sum", labels, counts.sum);
        line("_count", labels, static_cast<double>(counts.count));
      });
    } else if (e->collect) {
      for (const Sample& s : e->collect()) line("", s.labels, s.value);
    }
  }
  return out;
}

}  // namespace certgate::metrics
