// The registry renders Prometheus' text format: HELP and TYPE lines, series
// in label order, escaped label values, cumulative histogram buckets with
// +Inf, _sum and _count, and collectors' samples at each render.
// (tests/integration/observability_test.cc runs promtool over a live server's.)
#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace certgate::metrics {
namespace {

TEST(MetricsTest, CountersAndGaugesRenderWithTheirHelpTypeAndLabels) {
  Registry r;
  auto& requests = r.AddCounter("certgate_test_requests_total", "Requests.", {"code"});
  auto& open = r.AddGauge("certgate_test_open", "Open now.");
  requests.With({"2xx"}).Inc(3);
  requests.With({"5xx"}).Inc();
  requests.With({"2xx"}).Inc();
  open.Get().Set(7);
  EXPECT_EQ(r.Render(),
            "# HELP certgate_test_requests_total Requests.\n"
            "# TYPE certgate_test_requests_total counter\n"
            "certgate_test_requests_total{code=\"2xx\"} 4\n"
            "certgate_test_requests_total{code=\"5xx\"} 1\n"
            "# HELP certgate_test_open Open now.\n"
            "# TYPE certgate_test_open gauge\n"
            "certgate_test_open 7\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.AddGauge("certgate_test_g", "Back\\slash and\nnewline.", {"v"})
      .With({"a\"b\\c\nd"})
      .Set(0.25);
  EXPECT_EQ(r.Render(),
            "# HELP certgate_test_g Back\\\\slash and\\nnewline.\n"
            "# TYPE certgate_test_g gauge\n"
            "certgate_test_g{v=\"a\\\"b\\\\c\\nd\"} 0.25\n");
}

TEST(MetricsTest, HistogramsAreCumulativeWithInfSumAndCount) {
  Registry r;
  const double bounds[] = {0.25, 1};
  auto& h = r.AddHistogram("certgate_test_seconds", "Latency.", {"op"}, bounds).With({"read"});
  h.Observe(0.125);
  h.Observe(0.25);  // a bound is inclusive (le)
  h.Observe(0.5);
  h.Observe(3);
  EXPECT_EQ(r.Render(),
            "# HELP certgate_test_seconds Latency.\n"
            "# TYPE certgate_test_seconds histogram\n"
            "certgate_test_seconds_bucket{op=\"read\",le=\"0.25\"} 2\n"
            "certgate_test_seconds_bucket{op=\"read\",le=\"1\"} 3\n"
            "certgate_test_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
            "certgate_test_seconds_sum{op=\"read\"} 3.875\n"
            "certgate_test_seconds_count{op=\"read\"} 4\n");
}

TEST(MetricsTest, CollectorsAreAskedAtEachRender) {
  Registry r;
  int calls = 0;
  r.AddCollector("certgate_test_rows", "Rows.", Type::kGauge, [&] {
    ++calls;
    return std::vector<Sample>{{{{"kind", "a"}}, static_cast<double>(calls)},
                               {{}, std::numeric_limits<double>::infinity()}};
  });
  EXPECT_EQ(r.Render(),
            "# HELP certgate_test_rows Rows.\n"
            "# TYPE certgate_test_rows gauge\n"
            "certgate_test_rows{kind=\"a\"} 1\n"
            "certgate_test_rows +Inf\n");
  EXPECT_NE(r.Render().find("certgate_test_rows{kind=\"a\"} 2\n"), std::string::npos);
}

TEST(MetricsTest, SeriesCountCorrectlyFromManyThreads) {
  Registry r;
  auto& c = r.AddCounter("certgate_test_total", "Hits.").Get();
  auto& h = r.AddHistogram("certgate_test_h_seconds", "H.", {}).Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.Read().count, 40000u);
}

TEST(MetricsTest, NamesFollowPrometheusRules) {
  EXPECT_TRUE(ValidMetricName("certgate_handshakes_total"));
  EXPECT_TRUE(ValidMetricName("a:b_c9"));
  EXPECT_FALSE(ValidMetricName("9lives"));
  EXPECT_FALSE(ValidMetricName("has-dash"));
  EXPECT_FALSE(ValidMetricName(""));
  EXPECT_TRUE(ValidLabelName("error_code"));
  EXPECT_FALSE(ValidLabelName("__reserved"));
  EXPECT_FALSE(ValidLabelName("a:b"));
}

}  // namespace
}  // namespace certgate::metrics
