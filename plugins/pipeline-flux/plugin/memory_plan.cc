#include "memory_plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace flx::flux {
namespace {

constexpr double kAutoBudgetFraction = 0.85;
constexpr int64_t kAutoPoolDivisor = 4;
// cgroup v1 reports "no limit" as a huge number near 2^63.
constexpr int64_t kNoCgroupLimit = int64_t{1} << 60;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

double unit_factor(const std::string& unit) {
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},        {"b", 1},          {"kb", 1e3},        {"mb", 1e6},
      {"gb", 1e9},    {"tb", 1e12},      {"kib", 1024.0},    {"mib", 1048576.0},
      {"gib", 1073741824.0}, {"tib", 1099511627776.0}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return factor;
  }
  return 0;
}

int64_t read_first_integer(const std::string& path, const std::string& prefix, int64_t scale) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream fields(line.substr(prefix.size()));
    long long value = 0;
    if (fields >> value && value > 0) return static_cast<int64_t>(value) * scale;
    return 0;
  }
  return 0;
}

}  // namespace

std::optional<int64_t> parse_byte_size(const std::string& key, const std::string& value) {
  const std::string text = lower(value);
  if (text == "auto") return std::nullopt;
  size_t end = 0;
  while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) ||
                               text[end] == '.')) {
    ++end;
  }
  std::string unit = text.substr(end);
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  const double factor = unit_factor(unit);
  double number = 0;
  bool parsed = end > 0 && std::count(text.begin(), text.begin() + long(end), '.') <= 1;
  if (parsed) {
    try {
      number = std::stod(text.substr(0, end));
    } catch (const std::exception&) {
      parsed = false;
    }
  }
  const double bytes = number * factor;
  if (!parsed || factor == 0 || !(bytes >= 1) || bytes > 9.0e18) {
    throw std::invalid_argument(key + " must be auto or a size such as 16GiB, 512MiB or "
                                      "1500000000, got \"" + value + "\"");
  }
  return static_cast<int64_t>(bytes);
}

std::string format_bytes(int64_t bytes) {
  char text[32];
  const double b = static_cast<double>(bytes);
  if (b >= 1073741824.0) {
    std::snprintf(text, sizeof(text), "%.2f GiB", b / 1073741824.0);
  } else if (b >= 1048576.0) {
    std::snprintf(text, sizeof(text), "%.1f MiB", b / 1048576.0);
  } else {
    std::snprintf(text, sizeof(text), "%lld B", static_cast<long long>(bytes));
  }
  return text;
}

int64_t machine_memory_bytes(const std::string& meminfo_path,
                             const std::vector<std::string>& cgroup_limit_files) {
  int64_t memory = read_first_integer(meminfo_path, "MemTotal:", 1024);
  for (const std::string& file : cgroup_limit_files) {
    const int64_t limit = read_first_integer(file, "", 1);
    if (limit > 0 && limit < kNoCgroupLimit) memory = memory > 0 ? std::min(memory, limit) : limit;
  }
  return memory;
}

MemoryBudget resolve_memory_budget(const std::string& memory_budget,
                                   const std::string& buffer_pool_idle_max, int64_t device_bytes,
                                   const std::string& device_name) {
  MemoryBudget out;
  if (const auto bytes = parse_byte_size("memory_budget", memory_budget)) {
    out.budget_bytes = *bytes;
    out.budget_reason = "memory_budget";
  } else if (device_bytes > 0) {
    out.budget_bytes = static_cast<int64_t>(static_cast<double>(device_bytes) * kAutoBudgetFraction);
    out.budget_reason = "auto: 85% of " + format_bytes(device_bytes) + " (" + device_name + ")";
  } else {
    throw std::invalid_argument("memory_budget: auto cannot tell how much memory " + device_name +
                                " has; set memory_budget to a size such as 16GiB");
  }
  if (const auto bytes = parse_byte_size("buffer_pool_idle_max", buffer_pool_idle_max)) {
    out.pool_idle_max_bytes = *bytes;
    out.pool_idle_reason = "buffer_pool_idle_max";
  } else {
    out.pool_idle_max_bytes = out.budget_bytes / kAutoPoolDivisor;
    out.pool_idle_reason = "auto: a quarter of the memory budget";
  }
  return out;
}

std::string over_budget_message(int64_t width, int64_t height, int64_t weights_bytes,
                                const ActivationEstimate& estimate, int64_t budget_bytes,
                                bool tried_fit) {
  const bool denoise = estimate.denoise_bytes >= estimate.vae_decode_bytes;
  return "a " + std::to_string(width) + "x" + std::to_string(height) + " image needs about " +
         format_bytes(weights_bytes + estimate.peak_bytes()) + " (weights " +
         format_bytes(weights_bytes) + " + " + format_bytes(estimate.peak_bytes()) +
         " of activations at the peak of " + (denoise ? "denoising" : "the VAE decode") +
         "), more than this model's memory budget of " + format_bytes(budget_bytes) +
         (tried_fit ? " even with attention_slicing max and vae_tiling; ask for a smaller size"
                    : "; ask for a smaller size, or let the operator set attention_slicing / "
                      "vae_tiling or over_budget: fit");
}

std::string lora_over_budget_message(const std::string& set, int64_t lora_bytes,
                                     int64_t weights_bytes, const ActivationEstimate& estimate,
                                     int64_t budget_bytes) {
  return "the LoRA set " + set + " needs " + format_bytes(lora_bytes) +
         " for its merged layers; with the weights (" + format_bytes(weights_bytes) +
         ") and this request's activations (" + format_bytes(estimate.peak_bytes()) +
         ") that is more than this model's memory budget of " + format_bytes(budget_bytes) +
         "; ask for fewer adapters or a smaller size, or let the operator raise memory_budget";
}

}  // namespace flx::flux
