#include "bench_options.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <utility>

#include "cli/cli.h"

namespace flx::bench {

const char* const kBenchUsage =
    "usage: fluxserve bench --model DIR [options]\n"
    "\n"
    "Generates images with the FLUX pipeline and reports each phase's median time, the\n"
    "transformer's and the VAE's achieved GFLOP/s, and their ratio to this machine's matmul\n"
    "roof measured in the same run, dtype and thread count. A benchmark, not a test.\n"
    "\n"
    "  --model DIR              diffusers folder (e.g. one from `fluxserve make-demo-model`)\n"
    "  --width N, --height N    image size in pixels (default 256x256)\n"
    "  --steps N                denoising steps per image (default 2)\n"
    "  --runs N                 timed runs, medians reported (default 3)\n"
    "  --warmup N               untimed runs first (default 1)\n"
    "  --device D               auto, cpu, cuda, cuda:N, mps (default auto)\n"
    "  --dtype T                auto, float32, float16, bfloat16 (default auto)\n"
    "  --threads N|auto         intra-op threads (default auto: physical cores)\n"
    "  --max-sequence-length N  T5 tokens (default 256)\n"
    "  --prompt TEXT            the prompt (the text does not change the work)\n"
    "  --seed N                 noise seed (default 0)\n"
    "  --attention-slicing S    off, auto, max or N (default off)\n"
    "  --quantize T             quantize the transformer and T5 on load: none, q8_0, q4_k,\n"
    "                           q5_k, q6_k, fp8 (default none)\n"
    "  --roof MxKxN             the roof's matmul shape (default 2048x3072x3072)\n"
    "  --roof-repeats N         roof products timed, best kept (default 5)\n"
    "  --buffer-pool on|off     reuse large CPU buffers, as the server does (default on)\n"
    "  --json                   print one JSON object instead of the table\n";

namespace {

bool parse_integer(const std::string& text, int64_t low, int64_t high, int64_t* value) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || parsed < low || parsed > high) return false;
  *value = parsed;
  return true;
}

// "2048x3072x3072" -> m, k, n.
bool parse_shape(const std::string& text, int64_t* m, int64_t* k, int64_t* n) {
  const size_t first = text.find('x');
  const size_t second = first == std::string::npos ? first : text.find('x', first + 1);
  if (second == std::string::npos) return false;
  constexpr int64_t kMaxSide = 65536;
  return parse_integer(text.substr(0, first), 1, kMaxSide, m) &&
         parse_integer(text.substr(first + 1, second - first - 1), 1, kMaxSide, k) &&
         parse_integer(text.substr(second + 1), 1, kMaxSide, n);
}

}  // namespace

std::optional<BenchOptions> parse_bench_options(const std::vector<std::string>& args,
                                                std::string* error) {
  BenchOptions options;
  auto fail = [&](const std::string& message) -> std::optional<BenchOptions> {
    *error = message;
    return std::nullopt;
  };
  struct IntegerFlag {
    const char* name;
    int64_t low, high;
    std::function<void(int64_t)> store;
  };
  const std::vector<IntegerFlag> integers = {
      {"--width", 16, 8192, [&](int64_t v) { options.width = v; }},
      {"--height", 16, 8192, [&](int64_t v) { options.height = v; }},
      {"--steps", 1, 1000, [&](int64_t v) { options.steps = static_cast<int>(v); }},
      {"--runs", 1, 1000, [&](int64_t v) { options.runs = static_cast<int>(v); }},
      {"--warmup", 0, 1000, [&](int64_t v) { options.warmup = static_cast<int>(v); }},
      {"--max-sequence-length", 1, 512,
       [&](int64_t v) { options.max_sequence_length = static_cast<int>(v); }},
      {"--seed", 0, INT64_MAX, [&](int64_t v) { options.seed = static_cast<uint64_t>(v); }},
      {"--roof-repeats", 1, 100, [&](int64_t v) { options.roof_repeats = static_cast<int>(v); }},
  };
  const std::vector<std::pair<const char*, std::string*>> texts = {
      {"--model", &options.model},         {"--device", &options.device},
      {"--dtype", &options.dtype},         {"--threads", &options.threads},
      {"--prompt", &options.prompt},       {"--attention-slicing", &options.attention_slicing},
      {"--quantize", &options.quantize},
  };

  FlagParser flags(args);
  while (flags.Next()) {
    if (flags.Is("--help") || flags.Is("-h")) {
      options.help = true;
      return options;
    }
    if (flags.Is("--json")) {
      options.json = true;
      continue;
    }
    if (flags.IsPositional()) return fail("unexpected argument \"" + flags.token() + "\"");
    const std::string flag = flags.token();
    auto text = std::find_if(texts.begin(), texts.end(),
                             [&](const auto& entry) { return flags.Is(entry.first); });
    auto integer = std::find_if(integers.begin(), integers.end(),
                                [&](const IntegerFlag& entry) { return flags.Is(entry.name); });
    if (text == texts.end() && integer == integers.end() && !flags.Is("--roof") &&
        !flags.Is("--buffer-pool")) {
      return fail("unknown option " + flag);
    }
    const std::string value = flags.Value();
    if (!flags.error().empty()) return fail(flags.error());
    if (text != texts.end()) {
      *text->second = value;
    } else if (integer != integers.end()) {
      int64_t parsed = 0;
      if (!parse_integer(value, integer->low, integer->high, &parsed)) {
        return fail(flag + " must be an integer from " + std::to_string(integer->low) + " to " +
                    std::to_string(integer->high) + ", got \"" + value + "\"");
      }
      integer->store(parsed);
    } else if (flags.Is("--roof")) {
      if (!parse_shape(value, &options.roof_m, &options.roof_k, &options.roof_n)) {
        return fail("--roof must be MxKxN with sides from 1 to 65536, got \"" + value + "\"");
      }
    } else {
      if (value != "on" && value != "off") {
        return fail("--buffer-pool must be on or off, got \"" + value + "\"");
      }
      options.buffer_pool = value == "on";
    }
  }
  if (options.model.empty()) return fail("--model is required");
  return options;
}

}  // namespace flx::bench
