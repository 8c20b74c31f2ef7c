#include "exposition_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace flx::metrics {
namespace {

TEST(ExpositionFormatTest, SampleValuesReadBackExactly) {
  struct Case {
    double value;
    const char* text;
  };
  const Case cases[] = {
      {0, "0"},
      {1, "1"},
      {-2, "-2"},
      {0.1, "0.1"},
      {0.0025, "0.0025"},
      {600, "600"},
      {1e-05, "1e-05"},
      {123456789012, "123456789012"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FormatSampleValue(c.value), c.text) << "value " << c.value;
    if (std::isfinite(c.value)) {
      EXPECT_EQ(std::stod(FormatSampleValue(c.value)), c.value) << c.text;
    }
  }
}

TEST(ExpositionFormatTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  struct Case {
    std::string raw;
    std::string escaped;
  };
  const Case cases[] = {
      {"plain", "plain"},
      {"", ""},
      {"a\\b", "a\\\\b"},
      {"say \"hi\"", "say \\\"hi\\\""},
      {"two\nlines", "two\\nlines"},
      {"tab\tand\rcr", "tab\tand\rcr"},
      {"ünïcode", "ünïcode"},
      {"\\\"\n", "\\\\\\\"\\n"},
  };
  for (const Case& c : cases) {
    std::string out;
    AppendEscapedLabelValue(&out, c.raw);
    EXPECT_EQ(out, c.escaped) << "raw: " << c.raw;
  }
}

TEST(ExpositionFormatTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  std::string out;
  AppendEscapedHelp(&out, "a \"quoted\" C:\\path\nnext");
  EXPECT_EQ(out, "a \"quoted\" C:\\\\path\\nnext");
}

TEST(ExpositionFormatTest, MetricAndLabelNames) {
  struct Case {
    const char* name;
    bool metric;
    bool label;
  };
  const Case cases[] = {
      {"fluxserve_requests_total", true, true},
      {"_x", true, true},
      {"a:b", true, false},
      {":a", true, false},
      {"__reserved", true, false},
      {"9lives", false, false},
      {"", false, false},
      {"has-dash", false, false},
      {"has space", false, false},
      {"le", true, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsValidMetricName(c.name), c.metric) << "'" << c.name << "' as a metric name";
    EXPECT_EQ(IsValidLabelName(c.name), c.label) << "'" << c.name << "' as a label name";
  }
}

}  // namespace
}  // namespace flx::metrics
