#include "ladder_config.h"

#include <flx/codes.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>


namespace flx::recovery {
namespace {

constexpr int64_t kMaxAttemptsLimit = 100;
constexpr int64_t kMaxDelayMs = 600000;
constexpr int64_t kMaxMinSteps = 1000;
constexpr int64_t kMaxMinSide = 16384;
constexpr size_t kMaxReasonLength = 64;

constexpr const char* kStageKeys[] = {"max_attempts", "codes", "delay_ms", "ladder"};
constexpr const char* kKnobs[] = {FLX_KNOB_EMPTY_CACHE, FLX_KNOB_ATTENTION_SLICING, FLX_KNOB_VAE_TILING,
                                  FLX_KNOB_VAE_SLICING, FLX_KNOB_OFFLOAD,           FLX_KNOB_DTYPE,
                                  FLX_KNOB_STEPS,       "resolution"};
constexpr const char* kRungModifiers[] = {FLX_KNOB_MIN_STEPS, FLX_KNOB_MIN_SIDE, "delay_ms", "reason"};

template <size_t N>
bool Contains(const char* const (&names)[N], const std::string& name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

template <size_t N>
std::string Join(const char* const (&names)[N]) {
  std::string joined;
  for (const char* name : names) joined += joined.empty() ? name : std::string(", ") + name;
  return joined;
}

// Keeps every problem, so a config is fixed in one pass.
class Problems {
 public:
  // Runs a host lookup, recording the located error it throws (a value of the wrong type).
  template <class Read>
  auto Guard(Read read) -> decltype(read()) {
    try {
      return read();
    } catch (const flx::Error& e) {
      messages_.push_back(e.what());
      return {};
    }
  }

  // Records `message` located at `node`.
  void Add(const flx::Config& node, const std::string& message) {
    messages_.push_back(node.error(message).what());
  }

  void ThrowIfAny() const { flx::throw_config_errors(messages_); }

 private:
  std::vector<std::string> messages_;
};

std::optional<int64_t> IntegerIn(Problems& problems, const flx::Config& node, const char* key,
                                 int64_t min, int64_t max) {
  std::optional<int64_t> value = problems.Guard([&] { return node.integer(key); });
  if (value && (*value < min || *value > max)) {
    problems.Add(node, std::string(key) + " must be between " + std::to_string(min) + " and " +
                           std::to_string(max) + ", got " + std::to_string(*value));
    return std::nullopt;
  }
  return value;
}

// The string at `key` when it is one of `allowed`, else nullopt (and a problem if present).
template <size_t N>
std::optional<std::string> OneOf(Problems& problems, const flx::Config& node, const char* key,
                                 const char* const (&allowed)[N]) {
  std::optional<std::string> value = problems.Guard([&] { return node.string(key); });
  if (value && !Contains(allowed, *value)) {
    const std::string expected = N == 1 ? allowed[0] : "one of " + Join(allowed);
    problems.Add(node, std::string(key) + " must be " + expected + ", got '" + *value + "'");
    return std::nullopt;
  }
  return value;
}

bool IsPositiveInteger(const std::string& text) {
  return !text.empty() && text.size() <= 9 &&
         text.find_first_not_of("0123456789") == std::string::npos && std::stol(text) > 0;
}

std::optional<std::string> AttentionSlicing(Problems& problems, const flx::Config& rung) {
  std::optional<std::string> value =
      problems.Guard([&] { return rung.string(FLX_KNOB_ATTENTION_SLICING); });
  if (!value) return std::nullopt;
  if (*value == "off" || *value == "auto" || *value == "max") return value;
  if (IsPositiveInteger(*value)) return std::to_string(std::stol(*value));
  problems.Add(
      rung, "attention_slicing must be off, auto, max or a positive integer, got '" + *value + "'");
  return std::nullopt;
}

std::optional<std::string> Dtype(Problems& problems, const flx::Config& rung) {
  static const std::pair<const char*, const char*> kSpellings[] = {
      {"float32", "float32"}, {"fp32", "float32"},      {"float16", "float16"},
      {"fp16", "float16"},    {"bfloat16", "bfloat16"}, {"bf16", "bfloat16"}};
  std::optional<std::string> value = problems.Guard([&] { return rung.string(FLX_KNOB_DTYPE); });
  if (!value) return std::nullopt;
  for (const auto& [spelling, canonical] : kSpellings) {
    if (*value == spelling) return std::string(canonical);
  }
  problems.Add(rung,
               "dtype must be one of float32, float16, bfloat16 (or fp32, fp16, bf16), got '" +
                   *value + "'");
  return std::nullopt;
}

bool IsReasonCode(const std::string& text) {
  return !text.empty() && text.size() <= kMaxReasonLength &&
         text.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") ==
             std::string::npos;
}

Rung ReadRung(Problems& problems, const flx::Config& node) {
  Rung rung;
  const std::string not_a_map = "a rung must be a map of knobs such as {attention_slicing: max}";
  if (std::optional<std::string> text = node.scalar()) {
    problems.Add(node, not_a_map + ", got '" + *text + "'");
    return rung;
  }
  if (node.size() > 0) {
    problems.Add(node, not_a_map + ", got a sequence");
    return rung;
  }
  for (const std::string& key : node.keys()) {
    if (!Contains(kKnobs, key) && !Contains(kRungModifiers, key)) {
      problems.Add(node, "unknown knob '" + key + "' (knobs: " + Join(kKnobs) +
                             "; rung settings: " + Join(kRungModifiers) + ")");
    }
  }

  if (std::optional<bool> empty_cache =
          problems.Guard([&] { return node.boolean(FLX_KNOB_EMPTY_CACHE); })) {
    if (!*empty_cache) problems.Add(node, "empty_cache can only be true (leave it out otherwise)");
    rung.empty_cache = *empty_cache;
  }
  rung.attention_slicing = AttentionSlicing(problems, node);
  rung.vae_tiling = problems.Guard([&] { return node.boolean(FLX_KNOB_VAE_TILING); });
  rung.vae_slicing = problems.Guard([&] { return node.boolean(FLX_KNOB_VAE_SLICING); });
  static const char* const kOffloads[] = {"none", "model", "sequential"};
  rung.offload = OneOf(problems, node, FLX_KNOB_OFFLOAD, kOffloads);
  rung.dtype = Dtype(problems, node);
  static const char* const kHalf[] = {"half"};
  rung.halve_steps = OneOf(problems, node, FLX_KNOB_STEPS, kHalf).has_value();
  rung.halve_resolution = OneOf(problems, node, "resolution", kHalf).has_value();

  if (std::optional<int64_t> min_steps = IntegerIn(problems, node, FLX_KNOB_MIN_STEPS, 1, kMaxMinSteps)) {
    rung.min_steps = static_cast<uint32_t>(*min_steps);
    if (!rung.halve_steps) problems.Add(node, "min_steps needs steps: half in the same rung");
  }
  if (std::optional<int64_t> min_side = IntegerIn(problems, node, FLX_KNOB_MIN_SIDE, 1, kMaxMinSide)) {
    rung.min_side = static_cast<uint32_t>(*min_side);
    if (!rung.halve_resolution) {
      problems.Add(node, "min_side needs resolution: half in the same rung");
    }
  }
  if (std::optional<int64_t> delay = IntegerIn(problems, node, "delay_ms", 0, kMaxDelayMs)) {
    rung.delay_ms = static_cast<uint32_t>(*delay);
  }
  if (std::optional<std::string> reason = problems.Guard([&] { return node.string("reason"); })) {
    if (IsReasonCode(*reason)) {
      rung.reason = *reason;
    } else {
      problems.Add(node, "reason must be 1 to " + std::to_string(kMaxReasonLength) +
                             " characters of [A-Za-z0-9_.:-], got '" + *reason + "'");
    }
  }
  return rung;
}

std::vector<flx_code> ReadCodes(Problems& problems, const flx::Config& codes) {
  std::vector<flx_code> out;
  if (!codes.keys().empty()) {
    problems.Add(codes, "codes must be a list of code names, e.g. [RESOURCE_EXHAUSTED], got a map");
    return out;
  }
  if (codes.size() == 0) {
    problems.Add(codes, "codes must list at least one code name, e.g. [RESOURCE_EXHAUSTED]");
    return out;
  }
  for (size_t i = 0; i < codes.size(); ++i) {
    flx::Config element = problems.Guard([&] { return codes.at(i); });
    if (!element) continue;
    std::optional<std::string> name = element.scalar();
    std::optional<flx_code> code = name ? flx::parse_failure_code(*name) : std::nullopt;
    if (!code) {
      problems.Add(element, "expected a code name (" + flx::failure_code_names() + ")" +
                                (name ? ", got '" + *name + "'" : ""));
      continue;
    }
    if (std::find(out.begin(), out.end(), *code) == out.end()) out.push_back(*code);
  }
  return out;
}

std::vector<Rung> ReadLadder(Problems& problems, const flx::Config& ladder) {
  std::vector<Rung> rungs;
  if (!ladder.keys().empty()) {
    problems.Add(ladder, "ladder must be a list of rungs, got a map");
    return rungs;
  }
  if (ladder.size() == 0) {
    problems.Add(ladder,
                 "ladder must list at least one rung (leave it out for the default "
                 "ladder)");
    return rungs;
  }
  for (size_t i = 0; i < ladder.size(); ++i) {
    flx::Config element = problems.Guard([&] { return ladder.at(i); });
    if (element) rungs.push_back(ReadRung(problems, element));
  }
  return rungs;
}

}  // namespace

LadderSettings ReadLadderSettings(const flx::Config& config) {
  LadderSettings settings;
  settings.rungs = DefaultLadder();
  if (!config) {
    settings.max_attempts = static_cast<uint32_t>(settings.rungs.size() + 1);
    return settings;
  }
  Problems problems;
  for (const std::string& key : config.keys()) {
    if (!Contains(kStageKeys, key)) {
      problems.Add(config, "unknown key '" + key + "' (known: " + Join(kStageKeys) + ")");
    }
  }
  std::optional<int64_t> max_attempts =
      IntegerIn(problems, config, "max_attempts", 1, kMaxAttemptsLimit);
  if (flx::Config codes = problems.Guard([&] { return config.node("codes"); })) {
    settings.codes = ReadCodes(problems, codes);
  }
  settings.delay_ms =
      static_cast<uint32_t>(IntegerIn(problems, config, "delay_ms", 0, kMaxDelayMs).value_or(0));
  if (flx::Config ladder = problems.Guard([&] { return config.node("ladder"); })) {
    settings.rungs = ReadLadder(problems, ladder);
  }
  problems.ThrowIfAny();
  settings.max_attempts =
      static_cast<uint32_t>(max_attempts.value_or(static_cast<int64_t>(settings.rungs.size()) + 1));
  return settings;
}

}  // namespace flx::recovery
