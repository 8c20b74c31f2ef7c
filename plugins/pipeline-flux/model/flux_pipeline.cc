#include "model/flux_pipeline.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "io/safetensors.h"
#include "model/device_selection.h"
#include "model/device_sync.h"
#include "model/image_postprocess.h"
#include "model/json_config.h"
#include "model/latents.h"
#include "model/sampling_observer.h"
#include "model/weights.h"

namespace flx::flux {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

JsonConfig component_config(const ModelPaths& paths, const std::string& component,
                            const std::string& file = "config.json") {
  return JsonConfig::load(paths.component_dir(component) + "/" + file);
}

void require_match(int64_t a, const std::string& a_name, int64_t b, const std::string& b_name) {
  if (a != b) {
    throw LoadError("model components disagree: " + a_name + " is " + std::to_string(a) + " but " +
                    b_name + " is " + std::to_string(b));
  }
}

at::Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return at::tensor(at::ArrayRef<int64_t>(ids), at::TensorOptions().dtype(at::kLong))
      .view({1, static_cast<int64_t>(ids.size())});
}

// Fails fast, naming the op, when this libtorch build lacks a kernel the networks need in
// `dtype` on `device`, instead of failing in the middle of the first generation.
void check_kernels_exist(c10::ScalarType dtype, c10::Device device) {
  const std::string op = first_missing_kernel(dtype, device);
  if (!op.empty()) {
    throw std::invalid_argument(std::string("compute dtype ") + c10::toString(dtype) + " on " +
                                device.str() + " is not supported by this libtorch (" + op +
                                " has no kernel for it); use another dtype or device");
  }
}

void check_cancelled(const GenerateCallbacks& callbacks, const std::string& where) {
  if (callbacks.cancelled && callbacks.cancelled()) {
    throw Cancelled("generation cancelled " + where);
  }
}

}  // namespace

FluxPipeline::FluxPipeline(const std::string& model_dir, c10::ScalarType dtype, c10::Device device,
                           const FluxPipelineOptions& options)
    : FluxPipeline(ModelPaths{model_dir, "", "", ""}, dtype, device, options) {}

FluxPipeline::FluxPipeline(const ModelPaths& paths, c10::ScalarType dtype, c10::Device device,
                           const FluxPipelineOptions& options)
    : dtype_(dtype),
      device_(device),
      options_(options),
      weights_plan_(device),
      noise_(NoiseGenerator::for_device(device)),
      prompt_cache_(options.text_cache_size > 0
                        ? std::make_unique<PromptCache>(options.text_cache_size)
                        : nullptr) {
  {
    c10::InferenceMode guard;
    check_kernels_exist(dtype, device);
  }
  const ClipTextConfig clip_config =
      ClipTextConfig::from_json(component_config(paths, "text_encoder"));
  const T5Config t5_config = T5Config::from_json(component_config(paths, "text_encoder_2"));
  const FluxTransformerConfig transformer_config =
      FluxTransformerConfig::from_json(component_config(paths, "transformer"));
  const AutoencoderKLConfig vae_config =
      AutoencoderKLConfig::from_json(component_config(paths, "vae"));
  scheduler_config_ = FlowMatchSchedulerConfig::from_json(
      component_config(paths, "scheduler", "scheduler_config.json"));

  require_match(transformer_config.joint_attention_dim, "transformer joint_attention_dim",
                t5_config.d_model, "text_encoder_2 d_model");
  require_match(transformer_config.pooled_projection_dim, "transformer pooled_projection_dim",
                clip_config.hidden_size, "text_encoder hidden_size");
  require_match(transformer_config.in_channels, "transformer in_channels",
                4 * vae_config.latent_channels, "4 x vae latent_channels");

  // Offloaded weights load on the host, each component recorded in its own registry.
  const bool offloading = options.offload != OffloadMode::kNone && !device.is_cpu();
  std::map<std::string, std::shared_ptr<WeightRegistry>> registries;
  auto weights = [&](TensorStore store, const std::string& component) {
    const QuantizeOnLoad policy = quantize_policy(component, options);
    weights_plan_.add(store, component, dtype, policy);
    component_stores_.emplace(component, store);
    if (!offloading) return Weights(std::move(store), dtype, device).quantize_on_load(policy);
    const auto registry = std::make_shared<WeightRegistry>(device);
    registries[component] = registry;
    return Weights(std::move(store), dtype, c10::Device(c10::kCPU), registry);
  };
  clip_ = std::make_unique<ClipTextModel>(
      clip_config, weights(open_text_encoder_weights(paths), "text_encoder"));
  t5_ = std::make_unique<T5Encoder>(t5_config,
                                    weights(open_text_encoder_2_weights(paths), "text_encoder_2"));
  transformer_ = std::make_unique<FluxTransformer>(
      transformer_config, weights(open_transformer_weights(paths), "transformer"));
  vae_ = std::make_unique<AutoencoderKL>(vae_config, weights(open_vae_weights(paths), "vae"));
  // Quantizing on load read every float source page; the quantized copies are what is used
  // now, so give those pages back (the few tensors still read from the file fault back in).
  for (const char* component : {"text_encoder_2", "transformer"}) {
    if (quantize_policy(component, options).type) {
      component_stores_.at(component).release_file_pages();
    }
  }

  OffloadPlanner planner(options.offload, {{"text_encoder", {}},
                                           {"text_encoder_2", t5_->block_prefixes()},
                                           {"transformer", transformer_->block_prefixes()},
                                           {"vae", {}}});
  offload_ = std::make_unique<OffloadExecutor>(std::move(planner), device, std::move(registries));
  offload_->on({OffloadEvent::Kind::kLoad, "", ""});
}

FluxPipeline::WeightStores FluxPipeline::open_weight_stores(const ModelPaths& paths) {
  return {{"text_encoder", open_text_encoder_weights(paths)},
          {"text_encoder_2", open_text_encoder_2_weights(paths)},
          {"transformer", open_transformer_weights(paths)},
          {"vae", open_vae_weights(paths)}};
}

WeightsPlan FluxPipeline::plan_weights(const WeightStores& stores, c10::ScalarType dtype,
                                       c10::Device device, const FluxPipelineOptions& options) {
  WeightsPlan plan(device);
  for (const auto& [component, store] : stores) {
    plan.add(store, component, dtype, quantize_policy(component, options));
  }
  return plan;
}

int64_t FluxPipeline::peak_weights_bytes() const {
  return weights_plan_.peak_bytes(options_.offload, release_unused_weights_);
}

void FluxPipeline::release_if_unused(const std::string& component) const {
  if (!release_unused_weights_) return;
  const auto it = component_stores_.find(component);
  if (it != component_stores_.end()) it->second.release_file_pages();
}

QuantizeOnLoad FluxPipeline::quantize_policy(const std::string& component,
                                             const FluxPipelineOptions& options) {
  QuantizeOnLoad policy;
  if (component == "transformer") {
    policy.type = options.quantize_transformer;
    // diffusers' names of what ComfyUI-GGUF keeps in F16: img_in, txt_in, time_in, vector_in,
    // guidance_in and final_layer.
    policy.keep_float = {"x_embedder.", "context_embedder.", "time_text_embed.", "norm_out.",
                         "proj_out."};
  } else if (component == "text_encoder_2") {
    policy.type = options.quantize_text_encoder_2;
  }
  return policy;
}

void FluxPipeline::check_params(const GenerateParams& params) const {
  const int64_t multiple = 2 * vae_scale_factor();
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"width", params.width},
                                    std::pair<const char*, int64_t>{"height", params.height}}) {
    if (value <= 0 || value % multiple != 0) {
      throw std::invalid_argument(std::string(name) + " " + std::to_string(value) +
                                  " must be a positive multiple of " + std::to_string(multiple) +
                                  " (2 x the VAE scale factor " +
                                  std::to_string(vae_scale_factor()) + ")");
    }
  }
  if (params.steps < 1) {
    throw std::invalid_argument("steps must be at least 1, got " + std::to_string(params.steps));
  }
  if (params.n < 1) {
    throw std::invalid_argument("n must be at least 1, got " + std::to_string(params.n));
  }
  if (params.clip_ids.empty()) throw std::invalid_argument("clip_ids must not be empty");
  if (params.t5_ids.empty()) throw std::invalid_argument("t5_ids must not be empty");
  if (params.vae.tiling) check_vae_tiling(params.vae.tile, vae_scale_factor());
  if (params.edit) {
    const size_t pixels = static_cast<size_t>(params.width * params.height);
    if (params.edit->rgb.size() != pixels * 3 ||
        (!params.edit->mask.empty() && params.edit->mask.size() != pixels)) {
      throw std::invalid_argument("the edit's image and mask must be width x height");
    }
    if (!(params.edit->strength > 0) || params.edit->strength > 1) {
      throw std::invalid_argument("strength must be in (0, 1]");
    }
    edit_start_step(params.steps, params.edit->strength);  // throws when no step is left
  }
}

std::unique_lock<std::mutex> FluxPipeline::offload_lock() const {
  if (!offload_->active()) return std::unique_lock<std::mutex>();
  return std::unique_lock<std::mutex>(offload_mutex_);
}

PromptEmbeddings FluxPipeline::encode_prompt(const std::vector<int64_t>& clip_ids,
                                             const std::vector<int64_t>& t5_ids) const {
  const std::unique_lock<std::mutex> lock = offload_lock();
  return encode_prompt_unlocked(clip_ids, t5_ids);
}

PromptEmbeddings FluxPipeline::encode_prompt_unlocked(const std::vector<int64_t>& clip_ids,
                                                      const std::vector<int64_t>& t5_ids) const {
  if (!prompt_cache_) return run_text_encoders(clip_ids, t5_ids);
  return prompt_cache_->get_or_compute(PromptKey{clip_ids, t5_ids},
                                       [&] { return run_text_encoders(clip_ids, t5_ids); });
}

PromptEmbeddings FluxPipeline::run_text_encoders(const std::vector<int64_t>& clip_ids,
                                                 const std::vector<int64_t>& t5_ids) const {
  c10::InferenceMode guard;
  PromptEmbeddings prompt;
  {
    const OffloadExecutor::ComponentRun run(*offload_, "text_encoder");
    prompt.pooled = clip_->forward(ids_tensor(clip_ids).to(device_)).pooled;
  }
  {
    const OffloadExecutor::ComponentRun run(*offload_, "text_encoder_2");
    prompt.prompt_embeds =
        t5_->forward(ids_tensor(t5_ids).to(device_), offload_->block_hook("text_encoder_2"));
  }
  wait_for(prompt.prompt_embeds);
  release_if_unused("text_encoder");
  release_if_unused("text_encoder_2");
  prompt.text_ids = text_ids(prompt.prompt_embeds.size(1), dtype_).to(device_);
  ++prompt_encodings_;
  return prompt;
}

at::Tensor FluxPipeline::vae_input_latents(const at::Tensor& packed, int64_t width,
                                           int64_t height) const {
  const AutoencoderKLConfig& config = vae_->config();
  const at::Tensor latents = unpack_latents(packed, latent_size(height, vae_scale_factor()),
                                            latent_size(width, vae_scale_factor()));
  return latents / config.scaling_factor + config.shift_factor;
}

at::Tensor FluxPipeline::decode_latents(const at::Tensor& packed, int64_t width, int64_t height,
                                        const VaeDecodeOptions& options,
                                        const AttentionOptions& attention) const {
  const std::unique_lock<std::mutex> lock = offload_lock();
  c10::InferenceMode guard;
  return decode_unlocked(vae_input_latents(packed, width, height), options, attention);
}

at::Tensor FluxPipeline::decode_unlocked(const at::Tensor& vae_input,
                                         const VaeDecodeOptions& options,
                                         const AttentionOptions& attention) const {
  const OffloadExecutor::ComponentRun run(*offload_, "vae");
  return vae_->decode(vae_input, options, attention);
}

std::vector<Image> FluxPipeline::generate(const GenerateParams& params,
                                          const GenerateCallbacks& callbacks) const {
  check_params(params);
  const CancellationScope cancellation(callbacks.cancelled);
  const std::unique_lock<std::mutex> lock = offload_lock();
  c10::InferenceMode guard;
  const Clock::time_point start = Clock::now();
  const PromptEmbeddings prompt = encode_prompt_unlocked(params.clip_ids, params.t5_ids);
  wait_for(prompt.prompt_embeds);
  if (callbacks.on_phase) callbacks.on_phase(FLX_PHASE_TEXT_ENCODE, seconds_since(start));
  std::vector<Image> images;
  for (int i = 0; i < params.n; ++i) {
    images.push_back(generate_one(params, prompt, i, callbacks));
  }
  return images;
}

Image FluxPipeline::generate_one(const GenerateParams& params, const PromptEmbeddings& prompt,
                                 int index, const GenerateCallbacks& callbacks) const {
  std::unique_ptr<SamplingObserver> dump;
  if (!params.dump_dir.empty()) {
    dump = std::make_unique<TensorDumpObserver>(
        index == 0 ? params.dump_dir : params.dump_dir + "/image-" + std::to_string(index));
  }
  const Clock::time_point denoise_start = Clock::now();
  const SamplingState state = start_sampling(params, prompt, index, dump.get());
  const at::Tensor latents = denoise(state, params, prompt, callbacks, dump.get());
  if (index + 1 == params.n) release_if_unused("transformer");
  if (callbacks.on_phase) callbacks.on_phase(FLX_PHASE_DENOISE, seconds_since(denoise_start));
  check_cancelled(callbacks, "before decoding");
  return decode_image(latents, params, state.seed, callbacks, dump.get());
}

FluxPipeline::SamplingState FluxPipeline::start_sampling(const GenerateParams& params,
                                                         const PromptEmbeddings& prompt,
                                                         int index,
                                                         SamplingObserver* observer) const {
  const FluxTransformerConfig& config = transformer_->config();
  const int64_t latent_height = latent_size(params.height, vae_scale_factor());
  const int64_t latent_width = latent_size(params.width, vae_scale_factor());
  SamplingState state;
  state.seed = params.seed + static_cast<uint64_t>(index);
  state.image_ids = latent_image_ids(latent_height / 2, latent_width / 2, dtype_).to(device_);
  state.schedule = flow_match_schedule(params.steps, (latent_height / 2) * (latent_width / 2),
                                       scheduler_config_);
  if (params.edit) {
    start_edit(params, &state);
  } else {
    state.latents = pack_latents(noise_.initial_noise(config.in_channels / 4, latent_height,
                                                      latent_width, state.seed, dtype_))
                        .to(device_);
  }
  if (config.guidance_embeds) {
    state.guidance =
        at::full({1}, params.guidance, at::TensorOptions().dtype(at::kFloat).device(device_));
  }
  if (observer != nullptr) {
    observer->on_start({params.clip_ids, params.t5_ids, prompt, state.image_ids, state.latents,
                        state.schedule, state.guidance});
  }
  return state;
}

void FluxPipeline::start_edit(const GenerateParams& params, SamplingState* state) const {
  const int64_t factor = vae_scale_factor();
  const int64_t latent_height = latent_size(params.height, factor);
  const int64_t latent_width = latent_size(params.width, factor);
  const int64_t channels = transformer_->config().in_channels / 4;
  const AutoencoderKLConfig& vae = vae_->config();
  LatentDistribution posterior;
  {
    const OffloadExecutor::ComponentRun run(*offload_, "vae");
    posterior = vae_->encode(
        image_to_vae_input(params.edit->rgb, params.width, params.height, dtype_).to(device_));
  }
  auto [standard_normal, noise] = noise_.edit_draws(channels, latent_height, latent_width,
                                                    state->seed, dtype_, dtype_);
  const at::Tensor sample =
      posterior.mean + at::exp(posterior.logvar * 0.5) * standard_normal.to(device_);
  const at::Tensor image_latents = (sample - vae.shift_factor) * vae.scaling_factor;
  noise = noise.to(device_);
  state->first_step = edit_start_step(params.steps, params.edit->strength);
  state->latents = pack_latents(
      scale_noise(image_latents, state->schedule.sigmas[state->first_step], noise));
  if (!params.edit->mask.empty()) {
    state->image_latents = pack_latents(image_latents);
    state->noise = pack_latents(noise);
    state->mask = packed_latent_mask(params.edit->mask, params.width, params.height, factor,
                                     channels, dtype_)
                      .to(device_);
  }
}

at::Tensor FluxPipeline::denoise(const SamplingState& state, const GenerateParams& params,
                                 const PromptEmbeddings& prompt,
                                 const GenerateCallbacks& callbacks,
                                 SamplingObserver* observer) const {
  const ScopedWeightOverlay lora(params.lora_overlay.get());
  FluxTransformerInputs inputs;
  inputs.encoder_hidden_states = prompt.prompt_embeds;
  inputs.pooled_projections = prompt.pooled;
  inputs.img_ids = state.image_ids;
  inputs.txt_ids = prompt.text_ids;
  inputs.guidance = state.guidance;
  inputs.attention = params.attention;
  inputs.block_hook = offload_->block_hook("transformer");
  const OffloadExecutor::ComponentRun transformer_run(*offload_, "transformer");
  at::Tensor latents = state.latents;
  const int total = params.steps - state.first_step;  // an edit runs the last steps only
  for (int step = state.first_step; step < params.steps; ++step) {
    const int done = step - state.first_step;
    check_cancelled(callbacks, "before step " + std::to_string(done + 1) + " of " +
                                   std::to_string(total));
    const Clock::time_point step_start = Clock::now();
    // The pipeline hands the model t / 1000 in the latents' dtype; the model scales it back.
    inputs.timestep = at::full({1}, state.schedule.timesteps[step],
                               at::TensorOptions().dtype(at::kFloat).device(device_))
                          .to(dtype_) /
                      1000;
    inputs.hidden_states = latents;
    const at::Tensor noise_pred = transformer_->forward(inputs);
    at::Tensor next = euler_step(latents, noise_pred, state.schedule.sigmas[step],
                                 state.schedule.sigmas[step + 1]);
    if (state.image_latents) next = keep_unmasked(state, step, next);
    if (observer != nullptr) observer->on_step({latents, inputs.timestep, noise_pred, next});
    send_preview(callbacks, done + 1, total, params, latents, noise_pred,
                 state.schedule.sigmas[step]);
    latents = next;
    wait_for(latents);
    if (callbacks.on_step) callbacks.on_step(done + 1, total, seconds_since(step_start));
  }
  if (observer != nullptr) observer->on_denoised(latents);
  return latents;
}

at::Tensor FluxPipeline::keep_unmasked(const SamplingState& state, int step,
                                       const at::Tensor& latents) const {
  // The kept area: the image latents noised to where sampling now is, clean after the last.
  const bool last = step + 1 == static_cast<int>(state.schedule.timesteps.size());
  const at::Tensor kept =
      last ? *state.image_latents
           : scale_noise(*state.image_latents, state.schedule.sigmas[step + 1], state.noise);
  return blend_kept_area(latents, kept, state.mask);
}

void FluxPipeline::send_preview(const GenerateCallbacks& callbacks, int step, int total,
                                const GenerateParams& params, const at::Tensor& latents,
                                const at::Tensor& velocity, double sigma) const {
  if (!callbacks.preview_wanted || !callbacks.on_preview) return;
  if (!callbacks.preview_wanted(step, total)) return;
  const int64_t factor = vae_scale_factor();
  const PreviewImage preview =
      latent_preview(predicted_clean_latents(latents, velocity, sigma),
                     latent_size(params.height, factor), latent_size(params.width, factor));
  callbacks.on_preview(step, total, preview);
}

Image FluxPipeline::decode_image(const at::Tensor& latents, const GenerateParams& params,
                                 uint64_t seed, const GenerateCallbacks& callbacks,
                                 SamplingObserver* observer) const {
  const Clock::time_point start = Clock::now();
  const at::Tensor vae_input = vae_input_latents(latents, params.width, params.height);
  const at::Tensor decoded = decode_unlocked(vae_input, params.vae, params.attention);
  const at::Tensor unit_image = to_unit_images(decoded);
  const at::Tensor rgb = to_uint8_images(unit_image).to(at::kCPU).contiguous();
  if (observer != nullptr) observer->on_decoded({vae_input, decoded, unit_image});
  if (callbacks.on_phase) callbacks.on_phase(FLX_PHASE_VAE_DECODE, seconds_since(start));
  Image image;
  image.width = params.width;
  image.height = params.height;
  image.seed = seed;
  const uint8_t* pixels = rgb.data_ptr<uint8_t>();
  image.rgb.assign(pixels, pixels + rgb.numel());
  return image;
}

}  // namespace flx::flux
