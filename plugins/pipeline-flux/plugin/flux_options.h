// flux_options.h — the `config:` of a `flux` pipeline stage (library flx_pipeline_flux).
//
//   key                          type     default       meaning
//   model                        string   (required)    a diffusers folder; a Hugging Face repo
//                                                       id ("black-forest-labs/FLUX.1-schnell")
//                                                       found in the local hub cache
//                                                       ($HF_HUB_CACHE, else $HF_HOME/hub, else
//                                                       $HOME/.cache/huggingface/hub); or a
//                                                       single-file transformer .safetensors
//                                                       (black-forest-labs or diffusers names)
//   base                         string   ""            for a single-file model: the diffusers
//                                                       folder or repo id supplying configs,
//                                                       tokenizers, text encoders and VAE
//   load                         string   eager         eager: load in prepare(), which the host
//                                                       runs in the background while /readyz
//                                                       says "loading"; lazy: load on the first
//                                                       request
//   warmup                       bool     true          after an eager load, run one 1-step
//                                                       generation at the smallest size and log
//                                                       its duration (skipped with load: lazy)
//   device                       string   auto          auto or cpu (auto is the CPU for now)
//   dtype                        string   auto          auto, float32 or bfloat16 (auto is
//                                                       float32)
//   threads                      string   auto          auto (std::thread::hardware_concurrency)
//                                or int                 or a count 1..1024 for libtorch's
//                                                       intra-op pool (process-wide)
//   default_steps                int      from model    1..1000; the model's default is 4 without
//                                                       a guidance embedding (schnell-like), 28
//                                                       with one (dev-like)
//   default_guidance             number   from model    0..100; 3.5 for dev-like models; ignored
//                                                       by schnell-like ones
//   default_max_sequence_length  int      from model    1..512 T5 tokens; 256 schnell-like, 512
//                                                       dev-like
//   default_width                int      1024          pixels, a multiple of 2 x the VAE scale
//   default_height               int      1024          factor (16 for FLUX.1), checked against
//                                                       the model when the stage is created
//   fault_injection              map      off           tries that fail as out of memory on
//                                                       purpose: oom_first_n, oom_above_pixels,
//                                                       oom_when_dtype (fault_injection.h)
//
// Requests override the defaults; see request_params.h.
#ifndef FLX_FLUX_PLUGIN_FLUX_OPTIONS_H_
#define FLX_FLUX_PLUGIN_FLUX_OPTIONS_H_

#include <cstdint>
#include <flx/plugin.hpp>
#include <optional>
#include <string>

#include "fault_injection.h"

namespace flx::flux {

enum class LoadMode { kEager, kLazy };

// Settings of one stage, with "auto" already resolved.
struct FluxOptions {
  std::string model;
  std::string base;
  LoadMode load = LoadMode::kEager;
  bool warmup = true;
  std::string device = "cpu";     // the resolved device
  std::string dtype = "float32";  // the resolved dtype: "float32" or "bfloat16"
  int threads = 1;                // the resolved intra-op thread count
  std::optional<int> default_steps;
  std::optional<double> default_guidance;
  std::optional<int> default_max_sequence_length;
  int64_t default_width = 1024;
  int64_t default_height = 1024;
  FaultInjection fault_injection;
};

// The largest max_sequence_length FLUX.1 accepts (diffusers refuses more).
constexpr int kMaxSequenceLengthLimit = 512;
constexpr int kMaxSteps = 1000;
constexpr int64_t kMaxSide = 8192;

// Reads `config`. `hardware_threads` is what threads: auto resolves to (values below 1 count as
// 1). Throws one flx::Error (INVALID_ARGUMENT) listing every bad or missing key, one per line,
// each located at file:line:col by the host.
FluxOptions read_flux_options(const flx::Config& config, unsigned hardware_threads);

const char* load_mode_name(LoadMode mode);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_FLUX_OPTIONS_H_
