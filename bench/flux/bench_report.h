// bench_report.h — what `fluxserve bench` measured and how it is printed: medians over the
// timed runs, achieved GFLOP/s from the FLOP counts (flop_count.h), ratios to the roof, as a
// table or as one JSON object. Torch-free so it is unit-tested without libtorch.
#ifndef FLX_BENCH_FLUX_BENCH_REPORT_H_
#define FLX_BENCH_FLUX_BENCH_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flx::bench {

// One timed run (one image), seconds and page-fault counts.
struct RunSample {
  double tokenize_seconds = 0;
  double text_encode_seconds = 0;
  std::vector<double> step_seconds;  // each denoising step
  double denoise_seconds = 0;
  double vae_decode_seconds = 0;
  double png_encode_seconds = 0;
  double total_seconds = 0;  // tokenize through PNG encode
  int64_t minor_faults = 0;  // over the whole run
  int64_t major_faults = 0;
  int64_t vae_decode_minor_faults = 0;
};

// What the run was and what the machine is: filled by the benchmark before summarize().
struct BenchSetup {
  std::string model;
  std::string device;
  std::string dtype;
  int threads = 0;
  std::string blas;
  int64_t width = 0;
  int64_t height = 0;
  int steps = 0;
  int64_t image_tokens = 0;
  int64_t text_tokens = 0;
  int warmup_runs = 0;
  double load_seconds = 0;
  int64_t weights_bytes = 0;  // the loaded weights as held (quantized matrices at their size)
  std::string quantize = "none";  // --quantize
  // Per component: tensors per held type ("Q8_0", "BF16", ...).
  std::map<std::string, std::map<std::string, int64_t>> tensor_types;
  double dequant_seconds = 0;  // per timed run: expanding quantized weights for their GEMMs
  double transformer_step_flops = 0;
  double vae_decode_flops = 0;
  std::string roof_shape;  // "2048x3072x3072"
  double roof_gflops = 0;  // best matmul throughput measured in this run
  int64_t peak_rss_bytes = 0;
  bool buffer_pool = false;
  uint64_t buffer_pool_hits = 0;  // over the whole process, warm-up included
  uint64_t buffer_pool_misses = 0;
  int64_t buffer_pool_idle_bytes = 0;       // kept for reuse at the end
  int64_t buffer_pool_peak_live_bytes = 0;  // the activations' high-water mark
};

struct BenchReport {
  BenchSetup setup;
  int runs = 0;
  // Medians over the runs (step_seconds: over every step of every run).
  double tokenize_seconds = 0;
  double text_encode_seconds = 0;
  double step_seconds = 0;
  std::vector<double> each_step_seconds;  // step i's median over the runs
  double denoise_seconds = 0;
  double vae_decode_seconds = 0;
  double png_encode_seconds = 0;
  double total_seconds = 0;
  double minor_faults = 0;
  double major_faults = 0;
  double vae_decode_minor_faults = 0;
  // Derived.
  double transformer_gflops = 0;  // transformer_step_flops / step_seconds
  double roof_ratio = 0;          // transformer_gflops / roof_gflops
  double vae_decode_gflops = 0;
  double vae_roof_ratio = 0;
  double peak_rss_to_weights = 0;
};

// The middle value (the mean of the two middle ones for an even count); 0 for none.
double median(std::vector<double> values);

// Medians of `samples` with the derived rates and ratios. Throws std::invalid_argument when
// `samples` is empty.
BenchReport summarize(const BenchSetup& setup, const std::vector<RunSample>& samples);

// One JSON object; keys: model, device, dtype, threads, blas, width, height, steps,
// image_tokens, text_tokens, runs, warmup_runs, load_seconds, tokenize_seconds,
// text_encode_seconds, step_seconds, each_step_seconds (array), denoise_seconds, vae_decode_seconds, png_encode_seconds,
// total_seconds, transformer_step_gflop, transformer_gflops, vae_decode_gflop,
// vae_decode_gflops, roof_shape, roof_gflops, roof_ratio, vae_roof_ratio, peak_rss_bytes,
// weights_bytes, peak_rss_to_weights, minor_faults, major_faults, vae_decode_minor_faults,
// buffer_pool, buffer_pool_hits, buffer_pool_misses, buffer_pool_idle_bytes,
// buffer_pool_peak_live_bytes.
std::string report_json(const BenchReport& report);

// A human-readable table of the same figures.
std::string report_table(const BenchReport& report);

}  // namespace flx::bench

#endif  // FLX_BENCH_FLUX_BENCH_REPORT_H_
