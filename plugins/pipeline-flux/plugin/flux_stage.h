// flux_stage.h — the `flux` pipeline stage: FLUX.1 text-to-image behind the fluxserve ABI.
//
// Life cycle: create() reads the config (flux_options.h), resolves device, dtype, threads,
// attention slicing and offload against this machine (stage_settings.h) and logs them in one
// line with their reasons and the BLAS, resolves the model path and reads the transformer
// and VAE configs (guidance embedding, VAE scale factor, which the VAE tile geometry is
// checked against), so a bad value, path or config fails at create, located at the stage's
// `config:`; nothing heavy loads there (a dry run stops after this). Each load emits the gauge
// "weights_bytes": every weight's element count times the compute dtype's size, summed over
// the copies of the model loaded now (see recovery overrides below). prepare()
// loads the networks and tokenizers (load: eager) and runs the warm-up; with load: lazy the
// first generate() loads them instead.
//
// generate() tokenizes the prompts with the checkpoint's own tokenizers, runs FluxPipeline
// and reports FLX_EVENT_PHASE events "tokenize", "text_encode", then per image "denoise" and
// "vae_decode" (plus "load" when a lazy load happened in the call), and FLX_EVENT_STEP after
// each denoising step. Cancellation is checked before tokenizing, before each step and before
// decoding; with progress: log each step is also a debug log line. Effective parameters are
// recorded as steps, width, height, guidance ("ignored" for models without a guidance
// embedding), max_sequence_length, dtype, device, attention_slicing, vae_tiling, vae_slicing
// and offload, plus the recovery overrides applied (request_params.h).
//
// Recovery overrides attention_slicing, vae_tiling and vae_slicing replace the stage's
// settings for the call. dtype and offload overrides pick a copy of the model loaded that way
// (variant_cache.h): the first try that asks for one loads it (a "load" phase in that call),
// later ones reuse it, and up to override_variants such copies are kept besides the
// configured one, least recently used first out; on an accelerator every other copy is
// dropped before one loads, so the new copy has the device's memory. With override_variants:
// 0, or when the override names a dtype this device cannot compute in, the override is
// ignored: logged and listed in the result's parameter "ignored_overrides" ("dtype=float16",
// comma-separated). The result's "dtype" and "offload" are what the try ran with.
//
// Out of memory: allocation failures become RESOURCE_EXHAUSTED with the allocator's message
// after cached device memory is released (exception_mapping.h, device_memory.h); the override
// empty_cache="true" releases it before the try. With fault_injection configured
// (fault_injection.h), a try chosen to fail does so right after its request resolved, before
// loading or tokenizing, through the same mapping as a real failure.
//
// The factory does not declare FLX_FLAG_THREADSAFE: FluxPipeline::generate could run
// concurrently, but on the CPU one call using every core is faster than two sharing them, so
// the host serialises calls.
#ifndef FLX_FLUX_PLUGIN_FLUX_STAGE_H_
#define FLX_FLUX_PLUGIN_FLUX_STAGE_H_

#include <atomic>
#include <cstdint>
#include <flx/plugin.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "flux_description.h"
#include "flux_options.h"
#include "io/checkpoint.h"
#include "lora_library.h"
#include "model/device_selection.h"
#include "model/flux_transformer.h"
#include "request_params.h"
#include "stage_settings.h"

namespace flx::flux {

class FluxPipeline;
struct GenerateCallbacks;
struct GenerateParams;
struct FluxPipelineOptions;
class PromptTokenizers;

class FluxStage : public flx::Pipeline {
 public:
  explicit FluxStage(const flx::StageContext& context);
  ~FluxStage() override;

  void prepare() override;
  void generate(const flx_request& request, flx_result* result) override;
  std::string describe() override;
  // Drops every loaded copy, the tokenizers, the merged LoRA sets and the pool's idle
  // buffers; prepare() loads again.
  void unload() override;

 private:
  struct Loaded;
  // How a copy of the model was loaded: the compute dtype and the offload mode.
  struct Variant {
    c10::ScalarType dtype = c10::kFloat;
    std::string dtype_name;
    OffloadMode offload = OffloadMode::kNone;
    bool operator==(const Variant& other) const {
      return dtype == other.dtype && offload == other.offload;
    }
  };
  // A loaded copy and the tokenizers, held by a call for its duration.
  struct Model {
    std::shared_ptr<const FluxPipeline> pipeline;
    std::shared_ptr<const PromptTokenizers> tokenizers;
  };

  // The variant the stage's config names.
  Variant configured_variant() const;
  // A new copy of the model as `variant` asks (residency chosen, checked against the
  // budget); throws flx::Error naming the model, dtype and offload.
  std::shared_ptr<const FluxPipeline> load_pipeline(const Variant& variant,
                                                    const flx_call* call) const;
  std::shared_ptr<const PromptTokenizers> load_tokenizers() const;
  // The "model loaded" line: dtype, seconds, offload, weight bytes and peak.
  void log_load(const Variant& variant, const FluxPipeline& pipeline, double seconds,
                const flx_call* call) const;
  // The variant a try runs with: the configured one with the request's dtype and offload
  // overrides applied; overrides that cannot apply are appended to `ignored` ("key=value").
  Variant choose_variant(const ResolvedRequest& request, const flx_call* call,
                         std::string* ignored) const;
  // The copy for `variant` and the tokenizers, loading them first when needed (thread-safe;
  // each loads once).
  Model ensure_loaded(const Variant& variant, const flx_call* call);
  void warm_up(const Model& model);
  // The try's preparation that comes before any heavy work: empty_cache, then fault injection
  // (throws RESOURCE_EXHAUSTED when this try is chosen to fail).
  void begin_try(const ResolvedRequest& request, const Variant& variant, const flx_call* call);
  // Throws OUT_OF_RANGE (param "size") for images above max_pixels.
  void check_max_pixels(const ResolvedRequest& request) const;
  // The knobs the try runs with so that the loaded weights, the merged layers of its LoRA set
  // and its activation estimate fit the memory budget (memory_plan.h); throws OUT_OF_RANGE
  // (param "lora" when the set is what does not fit, else "size") when none does. Sets
  // `*lora_room` to what the budget leaves the cache of merged sets, this one included.
  FitDecision fit_memory(const ResolvedRequest& request, const Variant& variant,
                         const CallKnobs& knobs, const LoraLibrary::Prepared& loras,
                         int64_t* lora_room) const;
  // The weights of every loaded copy, `variant`'s own counted at its peak (released parts).
  int64_t loaded_weights_bytes(const Variant& variant) const;
  // The result's parameters: what the try ran with (size, steps, dtype, knobs, offload) and
  // what it ignored or adjusted.
  void report_parameters(const ResolvedRequest& request, const Variant& variant,
                         const FluxPipeline& pipeline, const FitDecision& fit,
                         const std::string& ignored, flx_result* result) const;
  // The pipeline's inputs for the try: the tokenized prompts (a "tokenize" phase) and the
  // resolved sizes, steps and knobs.
  GenerateParams generate_params(const ResolvedRequest& request, const Model& model,
                                 const FitDecision& fit, const flx_call* call) const;
  // Step and phase events, progress output (progress: log / bar) and cancellation for `call`.
  GenerateCallbacks callbacks_for(const flx_call* call) const;
  // The activations of a default-size request in `dtype` with the stage's knobs, or with the
  // cheapest ones over_budget: fit could pick (attention_slicing max, vae_tiling).
  ActivationEstimate default_request_estimate(c10::ScalarType dtype,
                                              bool cheapest_knobs = false) const;
  // The quantize-on-load types and the offload mode of the copy for `variant` into
  // `options`: the configured ones, with `auto` resolved against the budget
  // (quantize_choice.h, logged); offload auto is none on the CPU.
  void choose_residency_for(const Variant& variant, FluxPipelineOptions* options,
                            const flx_call* call) const;
  // Decides whether `pipeline` gives back unused weights (release_unused_weights; auto: on the
  // CPU, when all its weights plus a default-size request at its cheapest knobs exceed the
  // budget) and throws LoadError when even its peak weights exceed the budget, so nothing
  // could run.
  void plan_weight_residency(FluxPipeline& pipeline) const;
  // What to change when `pipeline`'s weights exceed the budget, given what it quantized to.
  std::string residency_advice(const FluxPipeline& pipeline) const;
  void set_warmup(WarmupState state, std::optional<double> ms = std::nullopt);
  // Start-up: the model's paths and component configs (throws the config error "model: ...");
  // warnings for options that do nothing or are dangerous; default sizes that the VAE cannot
  // make; the one-line summary of what the stage runs with.
  void read_model_configs(const flx::Config& config);
  void warn_about_options() const;
  void check_default_sizes(const flx::Config& config) const;
  void log_configuration() const;
  // describe()'s parts: the resolved settings, the CPU buffer pool, the loaded copies (takes
  // the state mutex) and the copy shown in detail.
  void describe_settings(FluxDescription* description) const;
  static void describe_buffer_pool(FluxDescription* description);
  void describe_loaded(FluxDescription* description) const;
  void describe_loras(FluxDescription* description) const;
  void describe_pipeline(const FluxPipeline& shown, FluxDescription* description) const;
  // Times a small matmul in the stage's dtype and threads (model/matmul_roof.h), logs it and
  // warns when it is implausibly slow for a CPU (reference BLAS, emulated dtype).
  void check_matmul_speed();
  // lora_dir must be a readable folder holding every adapter of the default set.
  void check_lora_options(const flx::Config& config) const;
  // The LoRA set `request` asks for, read and sized against `pipeline` (LoraLibrary::prepare);
  // anything but an flx::Error is mapped as generation errors are (out of memory, ...).
  LoraLibrary::Prepared prepare_loras(const flx_request& request,
                                      const FluxPipeline& pipeline) const;
  // The merged layers of the prepared set (the cache kept within `room_bytes`), reported as
  // the `lora` parameter.
  std::shared_ptr<const WeightOverlay> lora_overlay(LoraLibrary::Prepared loras, int64_t room_bytes,
                                                    flx_result* result);

  const flx::Host host_;
  FluxOptions options_;
  HardwareInfo hardware_;
  StageSettings settings_;
  ModelPaths paths_;
  ModelDefaults defaults_;
  int64_t vae_scale_factor_ = 0;
  FluxTransformerConfig transformer_config_;
  AutoencoderKLConfig vae_config_;
  bool guidance_embeds_ = false;
  std::atomic<int64_t> tries_{0};
  std::optional<double> matmul_gflops_;  // the start-up check, when it ran  // tries so far,
                                         // counted while fault injection is on

  std::unique_ptr<LoraLibrary> loras_;

  std::mutex load_mutex_;           // held while loading, so concurrent first calls load once
  mutable std::mutex state_mutex_;  // guards the members below
  std::unique_ptr<Loaded> loaded_;
  WarmupState warmup_state_ = WarmupState::kDisabled;
  std::optional<double> warmup_ms_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_FLUX_STAGE_H_
