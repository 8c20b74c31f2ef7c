// bench_options.h — the command line of `fluxserve bench` (fluxserve-bench), parsed apart from
// the benchmark itself so its errors are unit-tested without libtorch.
#ifndef FLX_BENCH_FLUX_BENCH_OPTIONS_H_
#define FLX_BENCH_FLUX_BENCH_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flx::bench {

struct BenchOptions {
  std::string model;  // a diffusers folder (required)
  int64_t width = 256;
  int64_t height = 256;
  int steps = 2;
  int runs = 3;    // timed runs; figures are their medians
  int warmup = 1;  // untimed runs first
  std::string device = "auto";
  std::string dtype = "auto";
  std::string threads = "auto";
  int max_sequence_length = 256;  // T5 tokens (the figures use 256)
  std::string prompt = "a photo of a lighthouse on a cliff at dusk, waves, dramatic sky";
  uint64_t seed = 0;
  std::string attention_slicing = "off";
  std::string quantize = "none";
  // The roof: the best of `roof_repeats` products of [roof_m, roof_k] x [roof_k, roof_n].
  int64_t roof_m = 2048;
  int64_t roof_k = 3072;
  int64_t roof_n = 3072;
  int roof_repeats = 5;
  bool buffer_pool = true;  // model/cpu_buffer_pool.h, as the server's buffer_pool key
  bool json = false;
  bool help = false;
};

extern const char* const kBenchUsage;

// Parses the arguments after the command name. Returns nullopt and sets `error` (naming the
// flag and value) for an unknown flag, a missing or malformed value, or a missing --model.
std::optional<BenchOptions> parse_bench_options(const std::vector<std::string>& args,
                                                std::string* error);

}  // namespace flx::bench

#endif  // FLX_BENCH_FLUX_BENCH_OPTIONS_H_
