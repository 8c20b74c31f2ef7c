// fluxserve-bench: `fluxserve bench` — times the FLUX pipeline phase by phase and compares
// the transformer and the VAE with this machine's matmul roof measured in the same run
// (bench_report.h for the figures, bench/README.md for how to read them).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "bench_options.h"
#include "bench_report.h"
#include "cli/cli.h"
#include "config/environment.h"
#include "image_encoder.h"
#include "io/files.h"
#include "model/attention.h"
#include "model/cpu_buffer_pool.h"
#include "model/device_selection.h"
#include "model/flop_count.h"
#include "model/flux_pipeline.h"
#include "model/matmul_roof.h"
#include "model/quantized_matrix.h"
#include "flux_options.h"
#include "process_usage.h"
#include "prompt_tokenizers.h"
#include "t5_tokenizer_module.h"

namespace flx::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The folder holding the T5 tokenizer module: the first of the server's plugin search path
// ($FLUX_PLUGIN_PATH, then next to this executable's build or install tree) that has it.
std::string t5_module_dir() {
  const std::vector<std::string> candidates =
      PluginSearchPaths(Environment::FromProcess(), /*configured=*/{});
  for (const std::string& dir : candidates) {
    if (flux::is_regular_file(dir + "/" FLX_T5_TOKENIZER_MODULE)) return dir;
  }
  std::string searched;
  for (const std::string& dir : candidates) searched += "\n  " + dir;
  throw std::runtime_error(std::string("cannot find ") + FLX_T5_TOKENIZER_MODULE +
                           " (set FLUX_PLUGIN_PATH); searched:" + searched);
}

RunSample run_once(const flux::FluxPipeline& pipeline, const flux::PromptTokenizers& tokenizers,
                   const BenchOptions& options, const flux::AttentionOptions& attention) {
  RunSample sample;
  const ProcessUsage before = ProcessUsage::now();
  const Clock::time_point start = Clock::now();
  flux::GenerateParams params;
  flux::PromptIds ids = tokenizers.encode(
      options.prompt, options.prompt,
      static_cast<size_t>(pipeline.clip().config().max_position_embeddings),
      static_cast<size_t>(options.max_sequence_length));
  params.clip_ids = std::move(ids.clip);
  params.t5_ids = std::move(ids.t5);
  sample.tokenize_seconds = seconds_since(start);
  params.width = options.width;
  params.height = options.height;
  params.steps = options.steps;
  params.seed = options.seed;
  params.attention = attention;

  ProcessUsage denoised;
  flux::GenerateCallbacks callbacks;
  callbacks.on_step = [&](int, int, double seconds) { sample.step_seconds.push_back(seconds); };
  callbacks.on_phase = [&](const std::string& phase, double seconds) {
    if (phase == FLX_PHASE_TEXT_ENCODE) {
      sample.text_encode_seconds = seconds;
    } else if (phase == FLX_PHASE_DENOISE) {
      sample.denoise_seconds = seconds;
      denoised = ProcessUsage::now();
    } else if (phase == FLX_PHASE_VAE_DECODE) {
      sample.vae_decode_seconds = seconds;
      sample.vae_decode_minor_faults = ProcessUsage::now().minor_faults - denoised.minor_faults;
    }
  };
  const std::vector<flux::Image> images = pipeline.generate(params, callbacks);

  const Clock::time_point png_start = Clock::now();
  const flux::Image& image = images.at(0);
  PixelView view;
  view.width = static_cast<uint32_t>(image.width);
  view.height = static_cast<uint32_t>(image.height);
  view.channels = 3;
  view.pixels = image.rgb.data();
  const StatusOr<std::string> png = EncodePng(view);
  if (!png.ok()) throw std::runtime_error("PNG encoding failed: " + png.status().ToString());
  sample.png_encode_seconds = seconds_since(png_start);
  sample.total_seconds = seconds_since(start);
  const ProcessUsage after = ProcessUsage::now();
  sample.minor_faults = after.minor_faults - before.minor_faults;
  sample.major_faults = after.major_faults - before.major_faults;
  return sample;
}

// The held types per component and the dequantization time per timed run (the materialize
// clock read before them is `dequant_before`).
void record_quantization(const flux::FluxPipeline& pipeline, const BenchOptions& options,
                         double dequant_before, BenchSetup* setup) {
  setup->quantize = options.quantize;
  for (const auto& [component, weights] : pipeline.component_weights()) {
    setup->tensor_types[component] = weights.tensor_types;
  }
  setup->dequant_seconds =
      (flux::QuantizedMatrix::total_materialize_seconds() - dequant_before) / options.runs;
}

int run(const BenchOptions& options) {
  const flux::HardwareInfo hardware = flux::detect_hardware();
  const flux::DeviceChoice choice =
      flux::select_device_dtype(options.device, options.dtype, hardware);
  const flux::ThreadChoice threads = flux::select_threads(options.threads, hardware);
  at::set_num_threads(threads.threads);
  if (options.buffer_pool) flux::CpuBufferPool::install();
  if (options.quantize != "none" && !flux::quantize_dtype(options.quantize)) {
    std::cerr << "fluxserve bench: --quantize must be none, q8_0, q4_k, q5_k, q6_k or fp8, got \""
              << options.quantize << "\"\n";
    return 2;
  }
  const flux::AttentionOptions attention =
      flux::parse_attention_slicing(options.attention_slicing);
  c10::InferenceMode guard;
  if (!options.json) {
    std::cerr << "loading " << options.model << " (" << choice.device_name << ", "
              << choice.dtype_name << ", " << threads.threads << " threads)\n";
  }

  const Clock::time_point load_start = Clock::now();
  flux::FluxPipelineOptions pipeline_options;
  pipeline_options.text_cache_size = 0;  // time the text encoders on every run
  pipeline_options.quantize_transformer = flux::quantize_dtype(options.quantize);
  pipeline_options.quantize_text_encoder_2 = pipeline_options.quantize_transformer;
  const flux::FluxPipeline pipeline(options.model, choice.dtype, choice.device, pipeline_options);
  const flux::PromptTokenizers tokenizers = flux::PromptTokenizers::load(
      options.model + "/tokenizer", options.model + "/tokenizer_2", t5_module_dir());
  BenchSetup setup;
  setup.load_seconds = seconds_since(load_start);

  const auto roof = [&] {
    return flux::measure_matmul_roof(choice.dtype, choice.device, options.roof_m, options.roof_k,
                               options.roof_n, options.roof_repeats);
  };
  if (!options.json) std::cerr << "measuring the matmul roof\n";
  const double roof_before = roof();
  std::vector<RunSample> samples;
  double dequant_before_timed_runs = 0;
  for (int i = 0; i < options.warmup + options.runs; ++i) {
    const bool timed = i >= options.warmup;
    if (i == options.warmup) {
      dequant_before_timed_runs = flux::QuantizedMatrix::total_materialize_seconds();
    }
    if (!options.json) {
      std::cerr << (timed ? "run " : "warm-up ") << (timed ? i - options.warmup + 1 : i + 1)
                << "/" << (timed ? options.runs : options.warmup) << "\n";
    }
    RunSample sample = run_once(pipeline, tokenizers, options, attention);
    if (timed) samples.push_back(std::move(sample));
  }
  // Measured again after the runs: the best of both is the roof, so a noisy moment on a
  // shared machine does not flatter the pipeline.
  const double roof_after = roof();

  const flux::FluxTransformerConfig& transformer = pipeline.transformer().config();
  const int64_t scale = pipeline.vae_scale_factor();
  const int64_t latent_height = options.height / scale;
  const int64_t latent_width = options.width / scale;
  setup.model = options.model;
  setup.device = choice.device_name;
  setup.dtype = choice.dtype_name;
  setup.threads = threads.threads;
  setup.blas = flux::blas_description();
  setup.width = options.width;
  setup.height = options.height;
  setup.steps = options.steps;
  setup.image_tokens = (latent_height / 2) * (latent_width / 2);
  setup.text_tokens = options.max_sequence_length;
  setup.warmup_runs = options.warmup;
  setup.weights_bytes = pipeline.weights_bytes();
  record_quantization(pipeline, options, dequant_before_timed_runs, &setup);
  setup.transformer_step_flops =
      flux::transformer_step_flops(transformer, setup.image_tokens, setup.text_tokens);
  setup.vae_decode_flops =
      flux::vae_decode_flops(pipeline.vae().config(), latent_height, latent_width);
  setup.roof_shape = std::to_string(options.roof_m) + "x" + std::to_string(options.roof_k) +
                     "x" + std::to_string(options.roof_n);
  setup.roof_gflops = std::max(roof_before, roof_after);
  setup.peak_rss_bytes = ProcessUsage::now().peak_rss_bytes;
  if (const flux::CpuBufferPool* pool = flux::CpuBufferPool::installed()) {
    const flux::CpuBufferPool::Stats stats = pool->stats();
    setup.buffer_pool = true;
    setup.buffer_pool_hits = stats.hits;
    setup.buffer_pool_misses = stats.misses;
    setup.buffer_pool_idle_bytes = stats.idle_bytes;
    setup.buffer_pool_peak_live_bytes = stats.peak_live_bytes;
  }
  const BenchReport report = summarize(setup, samples);
  std::cout << (options.json ? report_json(report) + "\n" : report_table(report));
  return 0;
}

}  // namespace
}  // namespace flx::bench

int main(int argc, char** argv) {
  std::string error;
  const std::optional<flx::bench::BenchOptions> options =
      flx::bench::parse_bench_options(std::vector<std::string>(argv + 1, argv + argc), &error);
  if (!options) {
    std::cerr << "fluxserve bench: " << error << "\n\n" << flx::bench::kBenchUsage;
    return 2;
  }
  if (options->help) {
    std::cout << flx::bench::kBenchUsage;
    return 0;
  }
  try {
    return flx::bench::run(*options);
  } catch (const std::exception& e) {
    std::cerr << "fluxserve bench: " << e.what() << "\n";
    return 1;
  }
}
