#include "metric_registry.h"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>

namespace flx::metrics {
namespace {

TEST(MetricRegistryTest, CounterAndGaugeTextIsExact) {
  MetricRegistry registry;
  CounterFamily& requests =
      registry.AddCounter("app_requests_total", "Requests answered.", {"model", "status"});
  GaugeFamily& memory = registry.AddGauge("app_memory_bytes", "Resident memory.", {});
  requests.Add({"b", "200"});
  requests.Add({"a", "500"}, 2);
  requests.Add({"a", "200"});
  requests.Add({"a", "200"}, 0.5);
  memory.Set({}, 1048576);
  EXPECT_EQ(registry.Exposition(),
            "# HELP app_requests_total Requests answered.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{model=\"a\",status=\"200\"} 1.5\n"
            "app_requests_total{model=\"a\",status=\"500\"} 2\n"
            "app_requests_total{model=\"b\",status=\"200\"} 1\n"
            "# HELP app_memory_bytes Resident memory.\n"
            "# TYPE app_memory_bytes gauge\n"
            "app_memory_bytes 1048576\n");
}

TEST(MetricRegistryTest, HistogramTextIsCumulativeWithInfSumAndCount) {
  MetricRegistry registry;
  HistogramFamily& latency =
      registry.AddHistogram("app_latency_seconds", "Latency.", {"model"}, {0.01, 0.1, 1});
  // Binary fractions, so the expected sum is exact.
  latency.Observe({"m"}, 0.0078125);
  latency.Observe({"m"}, 0.0625);
  latency.Observe({"m"}, 0.25);
  latency.Observe({"m"}, 3);
  EXPECT_EQ(registry.Exposition(),
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{model=\"m\",le=\"0.01\"} 1\n"
            "app_latency_seconds_bucket{model=\"m\",le=\"0.1\"} 2\n"
            "app_latency_seconds_bucket{model=\"m\",le=\"1\"} 3\n"
            "app_latency_seconds_bucket{model=\"m\",le=\"+Inf\"} 4\n"
            "app_latency_seconds_sum{model=\"m\"} 3.3203125\n"
            "app_latency_seconds_count{model=\"m\"} 4\n");
}

TEST(MetricRegistryTest, HistogramWithoutLabelsHasOnlyLe) {
  MetricRegistry registry;
  registry.AddHistogram("h_seconds", "H.", {}, {1}).Observe({}, 2);
  EXPECT_EQ(registry.Exposition(),
            "# HELP h_seconds H.\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"1\"} 0\n"
            "h_seconds_bucket{le=\"+Inf\"} 1\n"
            "h_seconds_sum 2\n"
            "h_seconds_count 1\n");
}

TEST(MetricRegistryTest, FamilyWithoutSeriesWritesMetadataOnly) {
  MetricRegistry registry;
  registry.AddCounter("none_total", "Nothing yet.", {"model"});
  EXPECT_EQ(registry.Exposition(), "# HELP none_total Nothing yet.\n# TYPE none_total counter\n");
}

TEST(MetricRegistryTest, LabelValuesAndHelpAreEscaped) {
  MetricRegistry registry;
  registry.AddGauge("g", "Help with \\ and\nnewline.", {"stage"}).Set({"a\"b\\c\nd"}, 1);
  EXPECT_EQ(registry.Exposition(),
            "# HELP g Help with \\\\ and\\nnewline.\n"
            "# TYPE g gauge\n"
            "g{stage=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricRegistryTest, GaugeRemoveHidesTheSeries) {
  MetricRegistry registry;
  GaugeFamily& g = registry.AddGauge("g", "G.", {"stage"});
  g.Set({"a"}, 1);
  g.Set({"a"}, -3);
  g.Set({"b"}, 2);
  g.Remove({"b"});
  EXPECT_EQ(registry.Exposition(), "# HELP g G.\n# TYPE g gauge\ng{stage=\"a\"} -3\n");
}

TEST(MetricRegistryTest, MisuseThrowsWithTheMetricName) {
  struct Case {
    const char* what;
    std::function<void(MetricRegistry&)> misuse;
    const char* mentions;
  };
  const Case cases[] = {
      {"duplicate name",
       [](MetricRegistry& r) {
         r.AddCounter("x_total", "X.", {});
         r.AddGauge("x_total", "X.", {});
       },
       "x_total is registered twice"},
      {"invalid metric name", [](MetricRegistry& r) { r.AddGauge("bad-name", "B.", {}); },
       "invalid metric name 'bad-name'"},
      {"invalid label name", [](MetricRegistry& r) { r.AddGauge("g", "G.", {"__x"}); },
       "invalid label name '__x'"},
      {"repeated label",
       [](MetricRegistry& r) {
         r.AddGauge("g", "G.", {"a", "a"});
       },
       "label 'a' is listed twice"},
      {"le on a histogram", [](MetricRegistry& r) { r.AddHistogram("h", "H.", {"le"}, {1}); },
       "'le' is reserved"},
      {"bad buckets",
       [](MetricRegistry& r) {
         r.AddHistogram("h", "H.", {}, {2, 1});
       },
       "not greater"},
      {"wrong label count", [](MetricRegistry& r) { r.AddCounter("c", "C.", {"a"}).Add({}); },
       "c takes 1 label values, got 0"},
      {"negative counter increment",
       [](MetricRegistry& r) { r.AddCounter("c", "C.", {}).Add({}, -1); },
       "counter c cannot go down"},
  };
  for (const Case& c : cases) {
    MetricRegistry registry;
    try {
      c.misuse(registry);
      ADD_FAILURE() << c.what << ": no exception";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(c.mentions), std::string::npos)
          << c.what << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace flx::metrics
