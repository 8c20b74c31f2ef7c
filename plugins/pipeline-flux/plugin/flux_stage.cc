#include "flux_stage.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <flx/knobs.hpp>
#include <flx/progress.hpp>
#include <stdexcept>
#include <utility>
#include <vector>

#include "device_memory.h"
#include "edit_input.h"
#include "exception_mapping.h"
#include "model/autoencoder_kl.h"
#include "model/cpu_buffer_pool.h"
#include "model/flux_pipeline.h"
#include "model/flux_transformer.h"
#include "model/json_config.h"
#include "model/matmul_roof.h"
#include "model/prompt_cache.h"
#include "model/single_file_check.h"
#include "prompt_tokenizers.h"
#include "quantize_choice.h"
#include "variant_cache.h"

namespace flx::flux {
namespace {

using Clock = std::chrono::steady_clock;

// The warm-up image: the smallest multiple of the model's size step that is at least this.
constexpr int64_t kWarmupMinSide = 64;
const char* const kWarmupPrompt = "warm-up";
// T5 tokens of the warm-up: every weight is touched and every kernel runs whatever the
// length, and a short one keeps the time to ready low (the wide demo model: 4.7 s with the
// default 256 tokens, most of it the text encoder and attention over 256 text tokens).
constexpr int kWarmupTextTokens = 16;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

// config.quantization: the quantize setting and file of the transformer and T5, and what the
// loaded copy (`pipeline`, null before the first load) holds of each.
void describe_quantization(const FluxPipeline* pipeline, FluxDescription* description) {
  const auto add = [&](const std::string& component, const std::string& quantize,
                       const std::string& file) {
    FluxDescription::Quantization& q = description->quantization[component];
    q.quantize = quantize;
    q.file = file;
    if (pipeline == nullptr) return;
    const FluxPipelineOptions& options = pipeline->options();
    q.applied = quantize_name(component == "transformer" ? options.quantize_transformer
                                                         : options.quantize_text_encoder_2);
    auto it = pipeline->component_weights().find(component);
    if (it == pipeline->component_weights().end()) return;
    q.tensor_types = it->second.tensor_types;
    q.bytes = it->second.bytes;
  };
  add("transformer", description->options.quantize_transformer, description->transformer_file);
  add("text_encoder_2", description->options.quantize_text_encoder_2,
      description->text_encoder_2_file);
}

}  // namespace

struct FluxStage::Loaded {
  explicit Loaded(size_t capacity) : pipelines(capacity) {}
  std::shared_ptr<const PromptTokenizers> tokenizers;  // loaded with the first copy
  VariantCache<Variant, FluxPipeline> pipelines;

  // The copy for `variant` with the tokenizers, or an empty Model. Hold the state mutex.
  Model find(const Variant& variant) {
    std::shared_ptr<const FluxPipeline> pipeline = pipelines.find(variant);
    return pipeline ? Model{std::move(pipeline), tokenizers} : Model{};
  }
};

FluxStage::FluxStage(const flx::StageContext& context)
    : host_(context.host), hardware_(detect_hardware()) {
  std::vector<std::string> errors;
  options_ = read_flux_options(context.config, &errors);
  settings_ = resolve_stage_settings(options_, hardware_, context.config, &errors);
  flx::throw_config_errors(errors);
  loras_ = std::make_unique<LoraLibrary>(options_.lora);
  check_lora_options(context.config);
  read_model_configs(context.config);
  warn_about_options();
  check_stage_vae_tiling(settings_.vae, vae_scale_factor_, context.config);
  host_.info(
      startup_summary(options_.model, settings_.device, settings_.threads, blas_description()));
  defaults_ = model_defaults(guidance_embeds_, options_);
  check_default_sizes(context.config);
  loaded_ = std::make_unique<Loaded>(static_cast<size_t>(1 + options_.override_variants));
  if (context.dry_run) return;

  at::set_num_threads(settings_.threads.threads);
  if (options_.buffer_pool) {
    CpuBufferPool::install().set_idle_cap(settings_.memory.pool_idle_max_bytes);
  }
  check_matmul_speed();
  warmup_state_ = !options_.warmup                   ? WarmupState::kDisabled
                  : options_.load == LoadMode::kLazy ? WarmupState::kSkipped
                                                     : WarmupState::kPending;
  log_configuration();
}

void FluxStage::read_model_configs(const flx::Config& config) {
  try {
    const std::string cache =
        hf_hub_cache_dir(environment("HF_HUB_CACHE"), environment("HF_HOME"), environment("HOME"));
    paths_ = resolve_model(options_.model, cache, options_.base, options_.text_encoder_2_file);
    const std::string transformer_json = paths_.component_dir("transformer") + "/config.json";
    const FluxTransformerConfig transformer =
        FluxTransformerConfig::from_json(JsonConfig::load(transformer_json));
    if (!paths_.transformer_file.empty()) {
      check_transformer_file(open_transformer_weights(paths_), transformer, transformer_json);
    }
    if (!paths_.text_encoder_2_file.empty()) {
      const std::string t5_json = paths_.component_dir("text_encoder_2") + "/config.json";
      check_t5_file(open_text_encoder_2_weights(paths_),
                    T5Config::from_json(JsonConfig::load(t5_json)), t5_json);
    }
    const AutoencoderKLConfig vae = AutoencoderKLConfig::from_json(
        JsonConfig::load(paths_.component_dir("vae") + "/config.json"));
    guidance_embeds_ = transformer.guidance_embeds;
    vae_scale_factor_ = vae.scale_factor();
    transformer_config_ = transformer;
    vae_config_ = vae;
  } catch (const LoadError& e) {
    throw config.error(std::string("model: ") + e.what());
  }
}

void FluxStage::warn_about_options() const {
  if (!options_.base.empty() && paths_.transformer_file.empty()) {
    host_.warn("base \"" + options_.base + "\" is not used: model \"" + options_.model +
               "\" is a complete model, not a single file");
  }
  if (options_.fault_injection.enabled()) {
    host_.warn("FAULT INJECTION ENABLED: " + fault_injection_summary(options_.fault_injection) +
               "; chosen tries fail as out of memory on purpose (remove fault_injection from "
               "the stage's config to serve normally)");
  }
}

void FluxStage::check_default_sizes(const flx::Config& config) const {
  const int64_t multiple = 2 * vae_scale_factor_;
  for (const auto& [key, value] :
       {std::pair<const char*, int64_t>{"default_width", defaults_.width},
        std::pair<const char*, int64_t>{"default_height", defaults_.height}}) {
    if (value % multiple != 0) {
      throw config.error(std::string(key) + " " + std::to_string(value) + " is not a multiple of " +
                         std::to_string(multiple) + " (2 x the VAE scale factor of " + paths_.root +
                         ")");
    }
  }
}

void FluxStage::log_configuration() const {
  const auto flag = [](bool on) { return on ? "true" : "false"; };
  host_.info(
      "model " + paths_.root +
      (paths_.transformer_file.empty() ? "" : " with transformer " + paths_.transformer_file) +
      (paths_.text_encoder_2_file.empty() ? "" : " and T5 " + paths_.text_encoder_2_file) +
      ": load " + load_mode_name(options_.load) + ", " + std::to_string(defaults_.steps) +
      " steps by default, sizes in multiples of " + std::to_string(2 * vae_scale_factor_) +
      ", attention_slicing " + attention_slicing_name(settings_.attention) + ", vae_slicing " +
      flag(settings_.vae.slicing) + ", vae_tiling " + flag(settings_.vae.tiling) + ", offload " +
      offload_mode_name(settings_.offload) + ", override_variants " +
      std::to_string(options_.override_variants) + ", buffer_pool " + flag(options_.buffer_pool) +
      ", text_cache_size " + std::to_string(options_.text_cache_size) + ", progress " +
      progress_mode_name(options_.progress) + ", memory_budget " +
      format_bytes(settings_.memory.budget_bytes) + " (" + settings_.memory.budget_reason +
      "), over_budget " + (options_.over_budget_fit ? "fit" : "refuse") + ", max_pixels " +
      std::to_string(options_.max_pixels) + ", buffer_pool_idle_max " +
      format_bytes(settings_.memory.pool_idle_max_bytes));
}

FluxStage::~FluxStage() = default;

void FluxStage::check_matmul_speed() {
  try {
    c10::InferenceMode guard;
    matmul_gflops_ = quick_matmul_gflops(settings_.device.dtype, settings_.device.device);
  } catch (const std::exception& e) {
    host_.warn(std::string("matmul check failed: ") + e.what());
    return;
  }
  const std::string figure = format_number(std::round(*matmul_gflops_ * 10) / 10) +
                             " GFLOP/s (512x512x512 " + settings_.device.dtype_name + " on " +
                             settings_.device.device_name + ", " +
                             std::to_string(settings_.threads.threads) + " threads)";
  const double floor = kSlowMatmulGflopsPerThread * settings_.threads.threads;
  if (settings_.device.device.is_cpu() && *matmul_gflops_ < floor) {
    host_.warn("matmul check: " + figure + ", below " + format_number(floor) +
               ": generation will be slow. Is libtorch on the reference BLAS (install "
               "libopenblas0-openmp) or is " +
               settings_.device.dtype_name +
               " emulated on this CPU (try dtype: float32)? BLAS: " + blas_description());
  } else {
    host_.info("matmul check: " + figure);
  }
}

FluxStage::Variant FluxStage::configured_variant() const {
  return Variant{settings_.device.dtype, settings_.device.dtype_name, settings_.offload};
}

FluxStage::Variant FluxStage::choose_variant(const ResolvedRequest& r, const flx_call* call,
                                             std::string* ignored) const {
  Variant variant = configured_variant();
  auto ignore = [&](const std::string& key, const std::string& value, const std::string& why) {
    host_.info("override " + key + "=" + value + " ignored: " + why, call);
    *ignored += (ignored->empty() ? "" : ",") + key + "=" + value;
  };
  const bool switchable = options_.override_variants > 0;
  const std::string not_switchable = "override_variants is 0, so only the " + variant.dtype_name +
                                     "/" + offload_mode_name(variant.offload) + " copy is loaded";
  if (r.dtype) {
    try {
      const DeviceChoice wanted =
          select_device_dtype(settings_.device.device_name, *r.dtype, hardware_);
      if (wanted.dtype != variant.dtype && !switchable) {
        ignore(FLX_KNOB_DTYPE, *r.dtype, not_switchable);
      } else {
        variant.dtype = wanted.dtype;
        variant.dtype_name = wanted.dtype_name;
      }
    } catch (const std::invalid_argument& e) {
      ignore(FLX_KNOB_DTYPE, *r.dtype, e.what());
    }
  }
  if (r.offload) {
    try {
      const OffloadMode wanted = parse_offload_mode(*r.offload);
      if (wanted != variant.offload && !switchable) {
        ignore(FLX_KNOB_OFFLOAD, *r.offload, not_switchable);
      } else {
        variant.offload = wanted;
      }
    } catch (const std::invalid_argument& e) {
      ignore(FLX_KNOB_OFFLOAD, *r.offload, e.what());
    }
  }
  return variant;
}

FluxStage::Model FluxStage::ensure_loaded(const Variant& variant, const flx_call* call) {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (Model model = loaded_->find(variant); model.pipeline) return model;
  }
  std::lock_guard<std::mutex> loading(load_mutex_);
  std::vector<Variant> dropped;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (Model model = loaded_->find(variant); model.pipeline) return model;
    // On an accelerator the copy about to load needs the memory the others hold.
    dropped = loaded_->pipelines.make_room(/*exclusive=*/!settings_.device.device.is_cpu());
  }
  for (const Variant& gone : dropped) {
    host_.info(std::string("dropped the ") + gone.dtype_name + "/" +
                   offload_mode_name(gone.offload) + " copy of the model to make room for " +
                   variant.dtype_name + "/" + offload_mode_name(variant.offload),
               call);
  }
  const Clock::time_point start = Clock::now();
  Model model{load_pipeline(variant, call), nullptr};
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    model.tokenizers = loaded_->tokenizers;
  }
  if (!model.tokenizers) model.tokenizers = load_tokenizers();
  const double seconds = seconds_since(start);
  log_load(variant, *model.pipeline, seconds, call);
  if (call != nullptr) host_.emit_phase(call, FLX_PHASE_LOAD, seconds);
  int64_t total_bytes = 0;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    loaded_->tokenizers = model.tokenizers;
    loaded_->pipelines.insert(variant, model.pipeline, model.pipeline->weights_bytes());
    total_bytes = loaded_->pipelines.total_bytes();
  }
  host_.emit_gauge(FLX_GAUGE_WEIGHTS_BYTES, static_cast<double>(total_bytes), call);
  return model;
}

std::shared_ptr<const FluxPipeline> FluxStage::load_pipeline(const Variant& variant,
                                                             const flx_call* call) const {
  try {
    FluxPipelineOptions pipeline_options;
    pipeline_options.offload = variant.offload;
    pipeline_options.text_cache_size = static_cast<size_t>(options_.text_cache_size);
    choose_residency_for(variant, &pipeline_options, call);
    auto loaded = std::make_shared<FluxPipeline>(paths_, variant.dtype, settings_.device.device,
                                                 pipeline_options);
    plan_weight_residency(*loaded);
    return loaded;
  } catch (...) {
    rethrow_as_flx_error("loading the model " + options_.model + " in " + variant.dtype_name +
                         " with offload " + offload_mode_name(variant.offload));
  }
}

std::shared_ptr<const PromptTokenizers> FluxStage::load_tokenizers() const {
  try {
    return std::make_shared<const PromptTokenizers>(PromptTokenizers::load(
        paths_.component_dir("tokenizer"), paths_.component_dir("tokenizer_2")));
  } catch (...) {
    rethrow_as_flx_error("loading the tokenizers of " + options_.model);
  }
}

void FluxStage::log_load(const Variant& variant, const FluxPipeline& pipeline, double seconds,
                         const flx_call* call) const {
  const bool configured = variant == configured_variant();
  host_.info(std::string(configured ? "model" : "override copy of the model") + " loaded in " +
                 variant.dtype_name + " in " + format_number(seconds) + " s (" +
                 pipeline.offload_summary() + "; weights " +
                 format_bytes(pipeline.weights_bytes()) + ", at most " +
                 format_bytes(pipeline.peak_weights_bytes()) + " held at once" +
                 (pipeline.release_unused_weights() ? ", unused components released" : "") + ")",
             call);
}

void FluxStage::set_warmup(WarmupState state, std::optional<double> ms) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  warmup_state_ = state;
  warmup_ms_ = ms;
}

void FluxStage::prepare() {
  if (options_.load == LoadMode::kLazy) return;
  const Model model = ensure_loaded(configured_variant(), nullptr);
  if (options_.warmup) warm_up(model);
}

void FluxStage::unload() {
  std::lock_guard<std::mutex> loading(load_mutex_);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    loaded_ = std::make_unique<Loaded>(static_cast<size_t>(1 + options_.override_variants));
    warmup_state_ = !options_.warmup ? WarmupState::kDisabled : WarmupState::kPending;
    warmup_ms_.reset();
  }
  // Merged sets are keyed by the loaded copy they were merged into, which is gone.
  loras_->clear();
  int64_t freed = 0;
  if (CpuBufferPool* pool = CpuBufferPool::installed()) freed = pool->release_idle();
  host_.emit_gauge(FLX_GAUGE_WEIGHTS_BYTES, 0, nullptr);
  host_.info("model unloaded (" + format_bytes(freed) + " of idle buffers released)");
}

void FluxStage::warm_up(const Model& model) {
  const int64_t multiple = 2 * vae_scale_factor_;
  const int64_t side = (kWarmupMinSide + multiple - 1) / multiple * multiple;
  set_warmup(WarmupState::kRunning);
  const Clock::time_point start = Clock::now();
  try {
    c10::InferenceMode guard;
    GenerateParams params;
    PromptIds ids = model.tokenizers->encode(
        kWarmupPrompt, kWarmupPrompt,
        static_cast<size_t>(model.pipeline->clip().config().max_position_embeddings),
        static_cast<size_t>(std::min(kWarmupTextTokens, defaults_.max_sequence_length)));
    params.clip_ids = std::move(ids.clip);
    params.t5_ids = std::move(ids.t5);
    params.width = side;
    params.height = side;
    params.steps = 1;
    params.guidance = defaults_.guidance.value_or(0);
    params.attention = settings_.attention;
    params.vae = settings_.vae;
    model.pipeline->generate(params);
  } catch (...) {
    set_warmup(WarmupState::kFailed);
    rethrow_as_flx_error("warming up");
  }
  const double ms = seconds_since(start) * 1000;
  set_warmup(WarmupState::kDone, ms);
  host_.info("warm-up (" + std::to_string(side) + "x" + std::to_string(side) + ", 1 step) took " +
             format_number(ms) + " ms");
}

void FluxStage::generate(const flx_request& request, flx_result* result) {
  const flx_call* call = request.call;
  // An edit defaults to its image's size (rounded down to the size multiple).
  ModelDefaults defaults = defaults_;
  if (const flx_image* image = edit_image(request)) {
    edit_default_size(*image, 2 * vae_scale_factor_, &defaults.width, &defaults.height);
  }
  const ResolvedRequest r = resolve_request(request, defaults, 2 * vae_scale_factor_);
  check_max_pixels(r);
  if (flx::Host::cancelled(call)) throw flx::Error(FLX_CANCELLED, "cancelled before starting");
  // Whatever happens below, idle pool memory goes back under its cap afterwards.
  struct TrimPoolAfterwards {
    ~TrimPoolAfterwards() {
      if (CpuBufferPool* pool = CpuBufferPool::installed()) pool->trim();
    }
  } trim_pool_afterwards;
  std::string ignored;
  const Variant variant = choose_variant(r, call, &ignored);
  begin_try(r, variant, call);
  const Model model = ensure_loaded(variant, call);
  LoraLibrary::Prepared loras = prepare_loras(request, *model.pipeline);
  int64_t lora_room = 0;
  const FitDecision fit = fit_memory(r, variant, call_knobs(settings_, r), loras, &lora_room);
  report_parameters(r, variant, *model.pipeline, fit, ignored, result);
  std::vector<Image> images;
  try {
    c10::InferenceMode guard;
    GenerateParams params = generate_params(r, model, fit, call);
    params.edit = edit_images(request, r.width, r.height);
    params.lora_overlay = lora_overlay(std::move(loras), lora_room, result);
    if (params.edit) {
      flx::set_param(result, "edit", params.edit->mask.empty() ? "img2img" : "inpaint");
      flx::set_param(result, "strength", format_number(params.edit->strength));
    }
    images = model.pipeline->generate(params, callbacks_for(call));
  } catch (...) {
    rethrow_as_flx_error("generating");
  }
  for (const Image& image : images) {
    flx::add_image(result, static_cast<uint32_t>(image.width), static_cast<uint32_t>(image.height),
                   3, image.rgb.data(), image.seed);
  }
  if (!r.dump_dir.empty()) host_.info("tensors dumped to " + r.dump_dir, call);
}

void FluxStage::report_parameters(const ResolvedRequest& r, const Variant& variant,
                                  const FluxPipeline& pipeline, const FitDecision& fit,
                                  const std::string& ignored, flx_result* result) const {
  flx::set_param(result, FLX_KNOB_STEPS, std::to_string(r.steps));
  flx::set_param(result, FLX_KNOB_WIDTH, std::to_string(r.width));
  flx::set_param(result, FLX_KNOB_HEIGHT, std::to_string(r.height));
  flx::set_param(result, "guidance", r.guidance ? format_number(*r.guidance) : "ignored");
  flx::set_param(result, "max_sequence_length", std::to_string(r.max_sequence_length));
  flx::set_param(result, FLX_KNOB_DTYPE, variant.dtype_name);
  flx::set_param(result, "device", settings_.device.device_name);
  for (const auto& [key, value] : r.applied_overrides) flx::set_param(result, key, value);
  flx::set_param(result, FLX_KNOB_ATTENTION_SLICING, attention_slicing_name(fit.attention));
  flx::set_param(result, FLX_KNOB_VAE_TILING, flx::knob_bool(fit.vae.tiling));
  flx::set_param(result, FLX_KNOB_VAE_SLICING, flx::knob_bool(fit.vae.slicing));
  flx::set_param(result, FLX_KNOB_OFFLOAD, offload_mode_name(pipeline.options().offload));
  if (!ignored.empty()) flx::set_param(result, "ignored_overrides", ignored);
  flx::set_param(result, "memory_estimate_bytes", std::to_string(fit.estimate.peak_bytes()));
  if (!fit.adjustment.empty()) flx::set_param(result, "memory_fit", fit.adjustment);
}

GenerateParams FluxStage::generate_params(const ResolvedRequest& r, const Model& model,
                                          const FitDecision& fit, const flx_call* call) const {
  const Clock::time_point start = Clock::now();
  GenerateParams params;
  PromptIds ids = model.tokenizers->encode(
      r.prompt, r.prompt_2,
      static_cast<size_t>(model.pipeline->clip().config().max_position_embeddings),
      static_cast<size_t>(r.max_sequence_length));
  params.clip_ids = std::move(ids.clip);
  params.t5_ids = std::move(ids.t5);
  host_.emit_phase(call, FLX_PHASE_TOKENIZE, seconds_since(start));
  params.width = r.width;
  params.height = r.height;
  params.steps = r.steps;
  params.guidance = r.guidance.value_or(0);
  params.seed = r.seed;
  params.n = r.n;
  params.dump_dir = r.dump_dir;
  params.attention = fit.attention;
  params.vae = fit.vae;
  return params;
}

GenerateCallbacks FluxStage::callbacks_for(const flx_call* call) const {
  GenerateCallbacks callbacks;
  callbacks.on_step = [this, call](int step, int total, double seconds) {
    host_.emit_step(call, static_cast<uint32_t>(step), static_cast<uint32_t>(total), seconds);
    if (options_.progress == ProgressMode::kLog) {
      host_.debug("step " + std::to_string(step) + "/" + std::to_string(total) + " took " +
                      format_number(seconds * 1000) + " ms",
                  call);
    } else if (options_.progress == ProgressMode::kBar) {
      flx::draw_progress_bar(stderr, static_cast<uint32_t>(step), static_cast<uint32_t>(total),
                             seconds);
    }
  };
  callbacks.on_phase = [this, call](const std::string& phase, double seconds) {
    host_.emit_phase(call, phase.c_str(), seconds);
  };
  callbacks.cancelled = [call] { return flx::Host::cancelled(call); };
  callbacks.preview_wanted = [call](int step, int total) {
    return flx::Host::preview_wanted(call, static_cast<uint32_t>(step),
                                     static_cast<uint32_t>(total));
  };
  callbacks.on_preview = [this, call](int step, int total, const PreviewImage& preview) {
    host_.preview(call, static_cast<uint32_t>(step), static_cast<uint32_t>(total),
                  static_cast<uint32_t>(preview.width), static_cast<uint32_t>(preview.height), 3,
                  preview.rgb.data());
  };
  return callbacks;
}

void FluxStage::check_max_pixels(const ResolvedRequest& r) const {
  if (r.width * r.height <= options_.max_pixels) return;
  throw flx::Error(FLX_OUT_OF_RANGE, std::to_string(r.width) + "x" + std::to_string(r.height) +
                                         " is " + std::to_string(r.width * r.height) +
                                         " pixels, above this model's max_pixels of " +
                                         std::to_string(options_.max_pixels))
      .detail("param", "size");
}

ActivationEstimate FluxStage::default_request_estimate(c10::ScalarType dtype,
                                                       bool cheapest_knobs) const {
  EstimateInputs inputs;
  inputs.width = defaults_.width;
  inputs.height = defaults_.height;
  inputs.text_tokens = defaults_.max_sequence_length;
  inputs.element_size = static_cast<int64_t>(c10::elementSize(dtype));
  inputs.attention = settings_.attention;
  inputs.vae = settings_.vae;
  if (cheapest_knobs) {
    inputs.attention.slicing = AttentionOptions::Slicing::kMax;
    inputs.vae.tiling = true;
  }
  return estimate_activations(transformer_config_, vae_config_, inputs);
}

void FluxStage::plan_weight_residency(FluxPipeline& pipeline) const {
  const int64_t budget = settings_.memory.budget_bytes;
  // Weights compete with activations only where the activations cannot shrink: count a
  // default-size request at its cheapest knobs, so large images alone never trigger it.
  const int64_t activations =
      default_request_estimate(pipeline.dtype(), /*cheapest_knobs=*/true).peak_bytes();
  const bool release = options_.release_unused_weights.value_or(
      pipeline.device().is_cpu() && pipeline.weights_bytes() + activations > budget);
  pipeline.set_release_unused_weights(release);
  if (pipeline.peak_weights_bytes() <= budget) return;
  std::string parts;
  for (const auto& [component, weights] : pipeline.component_weights()) {
    parts += (parts.empty() ? "" : ", ") + component + " " + format_bytes(weights.bytes);
  }
  throw LoadError("the weights need " + format_bytes(pipeline.peak_weights_bytes()) + " at once (" +
                  parts + (release ? "; unused components released" : "") +
                  "), more than memory_budget " + format_bytes(budget) + " (" +
                  settings_.memory.budget_reason + "): " + residency_advice(pipeline));
}

std::string FluxStage::residency_advice(const FluxPipeline& pipeline) const {
  const FluxPipelineOptions& applied = pipeline.options();
  if (!pipeline.device().is_cpu() && applied.offload != OffloadMode::kSequential) {
    return "set offload: auto (or model / sequential) or quantize: auto, or raise memory_budget";
  }
  if (applied.quantize_transformer == DType::Q4_K &&
      applied.quantize_text_encoder_2 == DType::Q4_K) {
    return "q4_k is the smallest type quantize: offers, so raise memory_budget or use a "
           "smaller model";
  }
  if (options_.quantize_transformer == "none" && options_.quantize_text_encoder_2 == "none") {
    return "set quantize: auto (or a type such as q8_0 / q4_k), load quantized files, or raise "
           "memory_budget";
  }
  return "choose a smaller quantize: type (q4_k) or raise memory_budget";
}

void FluxStage::choose_residency_for(const Variant& variant, FluxPipelineOptions* options,
                                     const flx_call* call) const {
  ResidencySettings settings;
  settings.transformer = options_.quantize_transformer;
  settings.text_encoder_2 = options_.quantize_text_encoder_2;
  settings.release_unused = options_.release_unused_weights;
  settings.offload = variant.offload;
  settings.accelerator = !settings_.device.device.is_cpu();
  options->quantize_transformer = quantize_dtype(settings.transformer);
  options->quantize_text_encoder_2 = quantize_dtype(settings.text_encoder_2);
  options->offload = variant.offload == OffloadMode::kAuto ? OffloadMode::kNone : variant.offload;
  if (!settings.has_auto() || (!settings.accelerator && settings.transformer != "auto" &&
                               settings.text_encoder_2 != "auto")) {
    return;
  }
  const int64_t activations =
      default_request_estimate(variant.dtype, /*cheapest_knobs=*/true).peak_bytes();
  const FluxPipeline::WeightStores stores = FluxPipeline::open_weight_stores(paths_);
  const QuantizeChoice choice =
      choose_quantization(settings, activations, settings_.memory.budget_bytes,
                          [&](std::optional<DType> transformer, std::optional<DType> t5) {
                            FluxPipelineOptions candidate = *options;
                            candidate.quantize_transformer = transformer;
                            candidate.quantize_text_encoder_2 = t5;
                            return FluxPipeline::plan_weights(stores, variant.dtype,
                                                              settings_.device.device, candidate);
                          });
  options->quantize_transformer = choice.transformer;
  options->quantize_text_encoder_2 = choice.text_encoder_2;
  if (variant.offload == OffloadMode::kAuto) options->offload = choice.offload;
  if (choice.fits) {
    host_.info(choice.summary, call);
  } else {
    host_.warn(choice.summary, call);
  }
}

int64_t FluxStage::loaded_weights_bytes(const Variant& variant) const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  int64_t weights = loaded_->pipelines.total_bytes();
  if (const auto pipeline = loaded_->pipelines.peek(variant)) {
    weights -= pipeline->weights_bytes() - pipeline->peak_weights_bytes();
  }
  return weights;
}

FitDecision FluxStage::fit_memory(const ResolvedRequest& r, const Variant& variant,
                                  const CallKnobs& knobs, const LoraLibrary::Prepared& loras,
                                  int64_t* lora_room) const {
  EstimateInputs inputs;
  inputs.width = r.width;
  inputs.height = r.height;
  inputs.text_tokens = r.max_sequence_length;
  inputs.element_size = static_cast<int64_t>(c10::elementSize(variant.dtype));
  inputs.attention = knobs.attention;
  inputs.vae = knobs.vae;
  const auto estimate = [&](const EstimateInputs& candidate) {
    return estimate_activations(transformer_config_, vae_config_, candidate);
  };
  const int64_t weights = loaded_weights_bytes(variant);
  const int64_t budget = settings_.memory.budget_bytes;
  const bool fit_knobs = options_.over_budget_fit;
  FitDecision fit = fit_request(inputs, weights + loras.bytes, budget, fit_knobs, estimate);
  if (!fit.fits) {
    // Tell the adapters from the size: without the set, would the request fit?
    const FitDecision base =
        loras.bytes > 0 ? fit_request(inputs, weights, budget, fit_knobs, estimate) : fit;
    if (loras.bytes > 0 && base.fits) {
      throw flx::Error(FLX_OUT_OF_RANGE,
                       lora_over_budget_message(LoraLibrary::describe(loras.set), loras.bytes,
                                                weights, base.estimate, budget))
          .detail("param", FLX_PARAM_LORA);
    }
    throw flx::Error(FLX_OUT_OF_RANGE, over_budget_message(r.width, r.height, weights,
                                                           base.estimate, budget, fit_knobs))
        .detail("param", "size");
  }
  *lora_room = budget - weights - fit.estimate.peak_bytes();
  return fit;
}

void FluxStage::begin_try(const ResolvedRequest& r, const Variant& variant, const flx_call* call) {
  if (r.empty_cache) {
    const std::string freed = release_cached_device_memory();
    host_.info(freed.empty()
                   ? "empty_cache: no device cache to release on " + settings_.device.device_name
                   : "empty_cache: released " + freed,
               call);
  }
  if (!options_.fault_injection.enabled()) return;
  const TryShape shape{++tries_, r.width, r.height, variant.dtype_name};
  const std::optional<std::string> reason = injected_failure(options_.fault_injection, shape);
  if (!reason) return;
  host_.warn("fault injection: failing try " + std::to_string(shape.number) +
                 " as out of memory (" + *reason + ")",
             call);
  try {
    throw std::runtime_error(injected_out_of_memory_message(*reason));
  } catch (...) {
    rethrow_as_flx_error("generating");
  }
}

void FluxStage::check_lora_options(const flx::Config& config) const {
  const LoraOptions& lora = options_.lora;
  if (lora.dir.empty()) return;
  std::error_code error;
  if (!std::filesystem::is_directory(lora.dir, error)) {
    throw config.error("lora_dir " + lora.dir + " is not a folder");
  }
  try {
    loras_->check(lora.defaults);
  } catch (const flx::Error& e) {
    throw config.error(std::string("lora: ") + e.what());
  }
}

LoraLibrary::Prepared FluxStage::prepare_loras(const flx_request& request,
                                               const FluxPipeline& pipeline) const {
  try {
    return loras_->prepare(loras_->requested(request), pipeline);
  } catch (...) {
    rethrow_as_flx_error("reading the LoRA adapters");
  }
}

std::shared_ptr<const WeightOverlay> FluxStage::lora_overlay(LoraLibrary::Prepared loras,
                                                             int64_t room_bytes,
                                                             flx_result* result) {
  if (!loras.set.empty()) {
    flx::set_param(result, FLX_PARAM_LORA, LoraLibrary::describe(loras.set));
  }
  return loras_->overlay(std::move(loras), room_bytes);
}

std::string FluxStage::describe() {
  FluxDescription description;
  description.options = options_;
  describe_settings(&description);
  description.text_cache.size = options_.text_cache_size;
  description.matmul_gflops = matmul_gflops_;
  describe_buffer_pool(&description);
  description.memory.budget_bytes = settings_.memory.budget_bytes;
  description.memory.budget_reason = settings_.memory.budget_reason;
  description.memory.buffer_pool_idle_max_bytes = settings_.memory.pool_idle_max_bytes;
  description.memory.buffer_pool_idle_reason = settings_.memory.pool_idle_reason;
  description.model_root = paths_.root;
  description.transformer_file = paths_.transformer_file;
  description.text_encoder_2_file = paths_.text_encoder_2_file;
  description.vae_file = paths_.vae_file;
  description.defaults = defaults_;
  description.vae_scale_factor = vae_scale_factor_;
  description.guidance_embeds = guidance_embeds_;
  describe_loaded(&description);
  describe_loras(&description);
  return describe_json(description);
}

void FluxStage::describe_loras(FluxDescription* description) const {
  try {
    description->lora.available = loras_->available();
  } catch (const flx::Error& e) {
    description->lora.error = e.what();
  }
  const LoraLibrary::Stats stats = loras_->stats();
  description->lora.merges = stats.merges;
  description->lora.hits = stats.hits;
  description->lora.cached_sets = stats.cached_sets;
  description->lora.cached_bytes = stats.cached_bytes;
}

void FluxStage::describe_settings(FluxDescription* description) const {
  ResolvedSettings& out = description->settings;
  out.device = settings_.device.device_name;
  out.device_reason = settings_.device.device_reason;
  out.dtype = settings_.device.dtype_name;
  out.dtype_reason = settings_.device.dtype_reason;
  out.threads = settings_.threads.threads;
  out.threads_reason = settings_.threads.reason;
  out.blas = blas_description();
  out.attention_slicing = attention_slicing_name(settings_.attention);
  out.vae_slicing = settings_.vae.slicing;
  out.vae_tiling = settings_.vae.tiling;
  out.vae_tile_size = settings_.vae.tile.tile_size;
  out.vae_tile_overlap = settings_.vae.tile.overlap;
  out.offload = offload_mode_name(settings_.offload);
  description->dtype_override =
      options_.override_variants == 0
          ? "ignored unless it equals " + settings_.device.dtype_name +
                " (override_variants: 0 keeps one copy of the weights)"
          : "applied: a copy of the model in that dtype loads on first use; " +
                std::to_string(options_.override_variants) +
                " such copies are kept besides the configured one";
}

void FluxStage::describe_buffer_pool(FluxDescription* description) {
  const CpuBufferPool* pool = CpuBufferPool::installed();
  if (pool == nullptr) return;
  const CpuBufferPool::Stats stats = pool->stats();
  description->buffer_pool.enabled = true;
  description->buffer_pool.hits = stats.hits;
  description->buffer_pool.misses = stats.misses;
  description->buffer_pool.live_bytes = stats.live_bytes;
  description->buffer_pool.idle_bytes = stats.idle_bytes;
  description->buffer_pool.peak_live_bytes = stats.peak_live_bytes;
  description->buffer_pool.idle_cap_bytes = pool->idle_cap();
}

void FluxStage::describe_loaded(FluxDescription* description) const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  const auto& entries = loaded_->pipelines.entries();
  description->loaded = !entries.empty();
  if (!entries.empty()) description->weights_bytes = loaded_->pipelines.total_bytes();
  describe_quantization(entries.empty() ? nullptr : entries.back().value.get(), description);
  for (const auto& entry : entries) {
    // The mode the copy runs with (offload: auto resolved at its load).
    description->loaded_variants.push_back(
        {entry.key.dtype_name, offload_mode_name(entry.value->options().offload)});
  }
  // The configured copy's offload and prompt cache, else the most recently used one's.
  std::shared_ptr<const FluxPipeline> shown = loaded_->pipelines.peek(configured_variant());
  if (!shown && !entries.empty()) shown = entries.back().value;
  if (shown) describe_pipeline(*shown, description);
  description->warmup_state = warmup_state_;
  description->warmup_ms = warmup_ms_;
}

void FluxStage::describe_pipeline(const FluxPipeline& shown, FluxDescription* description) const {
  description->offload_summary = shown.offload_summary();
  description->memory.release_unused_weights = shown.release_unused_weights();
  description->memory.weights_peak_bytes = shown.peak_weights_bytes();
  description->memory.planned_peak_bytes =
      shown.peak_weights_bytes() + default_request_estimate(shown.dtype()).peak_bytes();
  if (const PromptCache* cache = shown.prompt_cache()) {
    description->text_cache.entries = static_cast<int64_t>(cache->size());
    description->text_cache.hits = cache->hits();
    description->text_cache.misses = cache->misses();
  }
}

}  // namespace flx::flux
