#include "config/diagnostics.h"

#include <gtest/gtest.h>

#include <utility>

namespace flx {
namespace {

TEST(SourceLocationTest, FormatsWhatIsKnown) {
  EXPECT_EQ((SourceLocation{"x.yaml", 12, 5}).ToString(), "x.yaml:12:5");
  EXPECT_EQ((SourceLocation{"x.yaml", 0, 0}).ToString(), "x.yaml");
  EXPECT_EQ(SourceLocation{}.ToString(), "");
}

Diagnostic Make(Diagnostic::Severity severity, SourceLocation location, std::string path,
                std::string message) {
  Diagnostic d;
  d.severity = severity;
  d.location = std::move(location);
  d.path = std::move(path);
  d.message = std::move(message);
  return d;
}

TEST(DiagnosticTest, ToStringLeavesOutEmptyParts) {
  using S = Diagnostic::Severity;
  EXPECT_EQ(Make(S::kError, {"configs/x.yaml", 12, 5}, "stages[2].config.max_queue",
                 "expected an integer, got 'abc'")
                .ToString(),
            "configs/x.yaml:12:5: error: stages[2].config.max_queue: expected an integer, got "
            "'abc'");
  EXPECT_EQ(Make(S::kWarning, {"x.yaml", 3, 1}, "", "stage 'a' is not used").ToString(),
            "x.yaml:3:1: warning: stage 'a' is not used");
  EXPECT_EQ(Make(S::kError, {"x.yaml", 0, 0}, "", "cannot read").ToString(),
            "x.yaml: error: cannot read");
  EXPECT_EQ(Make(S::kError, {}, "server", "bad").ToString(), "error: server: bad");
}

TEST(DiagnosticsTest, CountsAndJoinsOnePerLine) {
  Diagnostics diags;
  EXPECT_FALSE(diags.has_errors());
  EXPECT_TRUE(diags.empty());
  diags.Warning({"a.yaml", 2, 1}, "p", "w");
  EXPECT_FALSE(diags.has_errors());
  diags.Error({"a.yaml", 1, 1}, "", "e");
  EXPECT_TRUE(diags.has_errors());
  EXPECT_EQ(diags.error_count(), 1);
  EXPECT_EQ(diags.warning_count(), 1);
  EXPECT_EQ(diags.ToString(), "a.yaml:2:1: warning: p: w\na.yaml:1:1: error: e");
}

TEST(DiagnosticsTest, SortByLocationIsStable) {
  Diagnostics diags;
  diags.Error({"a.yaml", 3, 1}, "", "third");
  diags.Error({"a.yaml", 1, 7}, "", "second");
  diags.Error({"a.yaml", 1, 2}, "", "first");
  diags.Warning({"a.yaml", 3, 1}, "", "fourth");
  diags.SortByLocation();
  std::vector<std::string> order;
  for (const Diagnostic& d : diags.list()) order.push_back(d.message);
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second", "third", "fourth"}));
}

TEST(DiagnosticsTest, AppendKeepsCounts) {
  Diagnostics a, b;
  a.Error({}, "", "x");
  b.Error({}, "", "y");
  b.Warning({}, "", "z");
  a.Append(b);
  EXPECT_EQ(a.error_count(), 2);
  EXPECT_EQ(a.warning_count(), 1);
  EXPECT_EQ(a.list().size(), 3u);
}

}  // namespace
}  // namespace flx
