// flux_options.h — the `config:` of a `flux` pipeline stage (library flx_pipeline_flux).
//
//   key                          type     default       meaning
//   model                        string   (required)    a diffusers folder; a Hugging Face repo
//                                                       id ("black-forest-labs/FLUX.1-schnell")
//                                                       found in the local hub cache
//                                                       ($HF_HUB_CACHE, else $HF_HOME/hub, else
//                                                       $HOME/.cache/huggingface/hub); or a
//                                                       single-file transformer .safetensors
//                                                       (black-forest-labs or diffusers names;
//                                                       fp8 e4m3fn/e5m2, scaled or not) or .gguf
//                                                       (city96 / stable-diffusion.cpp FLUX
//                                                       GGUF files, any io/dequantize.h type)
//   base                         string   ""            for a single-file model: the diffusers
//                                                       folder or repo id supplying configs,
//                                                       tokenizers, text encoders and VAE
//   text_encoder_2_file          string   ""            a T5 encoder file used instead of the
//                                                       model's text_encoder_2 weights: .gguf in
//                                                       llama.cpp's names (t5-v1_1-xxl-encoder-
//                                                       Q8_0.gguf) or .safetensors in
//                                                       transformers' names (fp8 allowed)
//   quantize                     string   none          none, q8_0, q4_k, q5_k, q6_k, fp8 or
//                                or map                 auto for the transformer and T5, or a
//                                                       map {transformer: T, text_encoder_2: T}:
//                                                       float linear weights are quantized as
//                                                       they load and kept so (weights.h
//                                                       QuantizeOnLoad); files already
//                                                       quantized are used as they are. auto:
//                                                       the first of none, q8_0, q6_k, q5_k,
//                                                       q4_k that fits memory_budget
//                                                       (quantize_choice.h)
//   load                         string   eager         eager: load in prepare(), which the host
//                                                       runs in the background while /readyz
//                                                       says "loading"; lazy: load on the first
//                                                       request
//   warmup                       bool     true          after an eager load, run one 1-step
//                                                       generation at the smallest size and log
//                                                       its duration (skipped with load: lazy)
//   device                       string   auto          auto (cuda:0 when a CUDA device is
//                                                       visible, else mps, else cpu), cpu, cuda,
//                                                       cuda:<N> or mps (device_selection.h)
//   dtype                        string   auto          auto, float32, float16 or bfloat16
//                                                       (aliases fp32, float, fp16, half, bf16);
//                                                       auto: bfloat16 on a CPU with avx512_bf16
//                                                       or amx_bf16, else float32; bfloat16 on a
//                                                       CUDA device with native bf16, else
//                                                       float16; float16 on mps
//   threads                      string   auto          auto (the physical cores this process
//                                or int                 may run on) or a count 1..1024 for
//                                                       libtorch's intra-op pool (process-wide)
//   attention_slicing            string   off           off, auto, max or a chunk count
//                                                       (attention.h); requests' recovery
//                                                       overrides replace it per call
//   vae_slicing                  bool     false         decode a batch one image at a time
//   vae_tiling                   bool     false         decode large latents as blended tiles
//   vae_tile_size                int      512           tile side in pixels, a multiple of the
//                                                       VAE scale factor (vae_tiling.h)
//   vae_tile_overlap             int      128           pixels neighbouring tiles share, a
//                                                       multiple of the VAE scale factor, at
//                                                       most vae_tile_size / 2
//   offload                      string   none          none, model, sequential or auto
//                                                       (offload_planner.h); no effect on the CPU;
//                                                       auto: chosen with quantize against
//                                                       memory_budget (quantize_choice.h)
//   override_variants            int      1             copies of the model in another dtype or
//                                                       offload mode kept for recovery overrides
//                                                       (variant_cache.h), 0..4; 0 ignores such
//                                                       overrides. On the CPU a copy in the
//                                                       file's dtype maps the same pages; any
//                                                       other holds its weights again
//   buffer_pool                  bool     true          keep large freed CPU buffers for reuse
//                                                       instead of faulting fresh pages in every
//                                                       step (model/cpu_buffer_pool.h); process-
//                                                       wide, on from the first stage that has it
//   text_cache_size              int      16            prompts whose text embeddings are kept,
//                                                       least recently used first out, 0..1024;
//                                                       0 turns the cache off. One entry holds
//                                                       max_sequence_length x 4096 T5 values plus
//                                                       the pooled CLIP vector in the compute
//                                                       dtype: 8 MiB at 512 tokens in float32
//   progress                     string   off           off; log: one debug log line per
//                                                       denoising step; bar: a progress bar on
//                                                       stderr when it is a terminal (a
//                                                       foreground server), else nothing
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
//   memory_budget                string   auto          what a generation may hold (weights +
//                                                       activations); auto: 85% of the device's
//                                                       memory (memory_plan.h)
//   over_budget                  string   refuse        refuse: a request estimated above the
//                                                       budget is a 400 before it starts; fit:
//                                                       it runs with attention slicing / VAE
//                                                       tiling chosen to fit, else is refused
//   release_unused_weights       string   auto          true: give back the file pages of the
//                                or bool                text encoders while denoising and of
//                                                       the transformer between requests
//                                                       (FluxPipeline::release_unused_weights);
//                                                       auto: only when all the weights and a
//                                                       default-size image (at its cheapest
//                                                       knobs) do not fit memory_budget;
//                                                       false: never
//   max_pixels                   int      16777216      width x height above this is refused
//   buffer_pool_idle_max         string   auto          idle memory the CPU buffer pool keeps
//                                                       between requests; auto: a quarter of
//                                                       memory_budget
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
#include <vector>

#include "fault_injection.h"
#include "lora_options.h"
#include "io/tensor.h"

namespace flx::flux {

enum class LoadMode { kEager, kLazy };
enum class ProgressMode { kOff, kLog, kBar };

// Settings of one stage as written, defaults filled in. The device, dtype, threads,
// attention_slicing, offload and VAE tiling settings are checked against the machine and the
// model by stage_settings.h.
struct FluxOptions {
  std::string model;
  std::string base;
  std::string text_encoder_2_file;
  std::string quantize_transformer = "none";     // none, q8_0, q4_k, q5_k, q6_k, fp8, auto
  std::string quantize_text_encoder_2 = "none";
  LoadMode load = LoadMode::kEager;
  bool warmup = true;
  std::string device = "auto";
  std::string dtype = "auto";
  std::string threads = "auto";
  std::string attention_slicing = "off";
  bool vae_slicing = false;
  bool vae_tiling = false;
  int64_t vae_tile_size = 512;
  int64_t vae_tile_overlap = 128;
  std::string offload = "none";
  int64_t override_variants = 1;
  bool buffer_pool = true;
  int64_t text_cache_size = 16;
  ProgressMode progress = ProgressMode::kOff;
  std::optional<int> default_steps;
  std::optional<double> default_guidance;
  std::optional<int> default_max_sequence_length;
  int64_t default_width = 1024;
  int64_t default_height = 1024;
  FaultInjection fault_injection;
  std::string memory_budget = "auto";
  bool over_budget_fit = false;  // over_budget: fit (else refuse)
  std::optional<bool> release_unused_weights;  // nullopt: auto
  int64_t max_pixels = 4096 * 4096;
  std::string buffer_pool_idle_max = "auto";
  LoraOptions lora;  // lora_dir, lora, lora_cache (lora_options.h)
};

// The largest max_sequence_length FLUX.1 accepts (diffusers refuses more).
constexpr int kMaxSequenceLengthLimit = 512;
constexpr int kMaxSteps = 1000;
constexpr int64_t kMaxSide = FLX_MAX_IMAGE_SIDE;
constexpr int64_t kMaxTextCacheSize = 1024;
constexpr int64_t kMaxOverrideVariants = 4;

// Reads `config`, appending a message for every bad or missing key to `errors`, each located
// at file:line:col by the host.
FluxOptions read_flux_options(const flx::Config& config, std::vector<std::string>* errors);
// The same, throwing one flx::Error (INVALID_ARGUMENT) listing every problem, one per line.
FluxOptions read_flux_options(const flx::Config& config);

const char* load_mode_name(LoadMode mode);
// The storage type of a `quantize:` value ("q8_0" -> Q8_0, "fp8" -> F8_E4M3); nullopt for
// "none" (and "auto", which the stage resolves first: quantize_choice.h).
std::optional<DType> quantize_dtype(const std::string& name);
// The inverse: the `quantize:` value of a storage type, "none" for nullopt.
std::string quantize_name(std::optional<DType> type);
const char* progress_mode_name(ProgressMode mode);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_FLUX_OPTIONS_H_
