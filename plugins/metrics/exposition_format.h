// The lexical rules of the Prometheus text exposition format, version 0.0.4: how numbers,
// label values and HELP text are written. Shared by the registry and its tests.
#ifndef FLX_PLUGINS_METRICS_EXPOSITION_FORMAT_H_
#define FLX_PLUGINS_METRICS_EXPOSITION_FORMAT_H_

#include <string>
#include <string_view>

namespace flx::metrics {

// The Content-Type of a text exposition.
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

// Appends `value` the way Prometheus parses it: the shortest text that reads back as the same
// double ("0.1", "3", "1e-05"), "+Inf", "-Inf" or "NaN".
void AppendSampleValue(std::string* out, double value);
std::string FormatSampleValue(double value);

// Appends `value` escaped for use between the double quotes of a label value: backslash,
// double quote and line feed become \\, \" and \n; every other byte is kept.
void AppendEscapedLabelValue(std::string* out, std::string_view value);

// Appends `text` escaped for a HELP line: backslash and line feed become \\ and \n.
void AppendEscapedHelp(std::string* out, std::string_view text);

// True for a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(std::string_view name);

// True for a valid label name: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved).
bool IsValidLabelName(std::string_view name);

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_EXPOSITION_FORMAT_H_
