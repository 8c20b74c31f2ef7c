#include "bench_options.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <type_traits>

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
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--help" || flag == "-h") {
      options.help = true;
      return options;
    }
    if (flag == "--json") {
      options.json = true;
      continue;
    }
    if (flag.rfind("--", 0) != 0) return fail("unexpected argument \"" + flag + "\"");
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return fail(flag + " needs a value");
    }
    auto integer = [&](int64_t low, int64_t high, auto* out) -> bool {
      int64_t parsed = 0;
      if (!parse_integer(value, low, high, &parsed)) {
        *error = flag + " must be an integer from " + std::to_string(low) + " to " +
                 std::to_string(high) + ", got \"" + value + "\"";
        return false;
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(parsed);
      return true;
    };
    bool ok = true;
    if (flag == "--model") {
      options.model = value;
    } else if (flag == "--width") {
      ok = integer(16, 8192, &options.width);
    } else if (flag == "--height") {
      ok = integer(16, 8192, &options.height);
    } else if (flag == "--steps") {
      ok = integer(1, 1000, &options.steps);
    } else if (flag == "--runs") {
      ok = integer(1, 1000, &options.runs);
    } else if (flag == "--warmup") {
      ok = integer(0, 1000, &options.warmup);
    } else if (flag == "--device") {
      options.device = value;
    } else if (flag == "--dtype") {
      options.dtype = value;
    } else if (flag == "--threads") {
      options.threads = value;
    } else if (flag == "--max-sequence-length") {
      ok = integer(1, 512, &options.max_sequence_length);
    } else if (flag == "--prompt") {
      options.prompt = value;
    } else if (flag == "--seed") {
      ok = integer(0, INT64_MAX, &options.seed);
    } else if (flag == "--attention-slicing") {
      options.attention_slicing = value;
    } else if (flag == "--roof") {
      if (!parse_shape(value, &options.roof_m, &options.roof_k, &options.roof_n)) {
        return fail("--roof must be MxKxN with sides from 1 to 65536, got \"" + value + "\"");
      }
    } else if (flag == "--buffer-pool") {
      if (value != "on" && value != "off") {
        return fail("--buffer-pool must be on or off, got \"" + value + "\"");
      }
      options.buffer_pool = value == "on";
    } else if (flag == "--roof-repeats") {
      ok = integer(1, 100, &options.roof_repeats);
    } else {
      return fail("unknown option " + flag);
    }
    if (!ok) return std::nullopt;
  }
  if (options.model.empty()) return fail("--model is required");
  return options;
}

}  // namespace flx::bench
