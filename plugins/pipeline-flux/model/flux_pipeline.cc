#include "model/flux_pipeline.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "io/safetensors.h"
#include "model/image_postprocess.h"
#include "model/json_config.h"
#include "model/latents.h"
#include "model/tensor_dump.h"
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

at::Tensor float_tensor(const std::vector<float>& values) {
  return at::tensor(at::ArrayRef<float>(values), at::TensorOptions().dtype(at::kFloat));
}

// Fails fast, naming the op, when this libtorch build lacks a kernel the networks need in
// `dtype` on `device` (libtorch 1.13 has no float16 layer norm on the CPU, for instance),
// instead of failing in the middle of the first generation.
void check_kernels_exist(c10::ScalarType dtype, c10::Device device) {
  const at::TensorOptions options = at::TensorOptions().dtype(dtype).device(device);
  const at::Tensor x = at::ones({1, 2, 2, 2}, options);
  const std::pair<const char*, std::function<void()>> probes[] = {
      {"layer_norm", [&] { at::layer_norm(x, {2}); }},
      {"group_norm",
       [&] { at::group_norm(x, 1, at::ones({2}, options), at::zeros({2}, options)); }},
      {"conv2d",
       [&] {
         at::conv2d(x, at::ones({2, 2, 1, 1}, options));
       }},
      {"linear",
       [&] {
         at::linear(x, at::ones({2, 2}, options), at::zeros({2}, options));
       }},
      {"gelu", [&] { at::gelu(x, "tanh"); }},
      {"softmax", [&] { at::softmax(x, -1); }},
  };
  for (const auto& [op, probe] : probes) {
    try {
      probe();
    } catch (const c10::Error&) {
      throw std::invalid_argument(std::string("compute dtype ") + c10::toString(dtype) + " on " +
                                  device.str() + " is not supported by this libtorch (" + op +
                                  " has no kernel for it); use another dtype or device");
    }
  }
}

void check_cancelled(const GenerateCallbacks& callbacks, const std::string& where) {
  if (callbacks.cancelled && callbacks.cancelled()) {
    throw Cancelled("generation cancelled " + where);
  }
}

}  // namespace

FluxPipeline::FluxPipeline(const std::string& model_dir, c10::ScalarType dtype, c10::Device device)
    : FluxPipeline(ModelPaths{model_dir, "", ""}, dtype, device) {}

FluxPipeline::FluxPipeline(const ModelPaths& paths, c10::ScalarType dtype, c10::Device device)
    : dtype_(dtype), device_(device) {
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

  clip_ = std::make_unique<ClipTextModel>(clip_config,
                                          Weights(open_text_encoder_weights(paths), dtype, device));
  t5_ = std::make_unique<T5Encoder>(t5_config,
                                    Weights(open_text_encoder_2_weights(paths), dtype, device));
  transformer_ = std::make_unique<FluxTransformer>(
      transformer_config, Weights(open_transformer_weights(paths), dtype, device));
  vae_ =
      std::make_unique<AutoencoderKL>(vae_config, Weights(open_vae_weights(paths), dtype, device));
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
}

PromptEmbeddings FluxPipeline::encode_prompt(const std::vector<int64_t>& clip_ids,
                                             const std::vector<int64_t>& t5_ids) const {
  c10::InferenceMode guard;
  PromptEmbeddings prompt;
  prompt.pooled = clip_->forward(ids_tensor(clip_ids).to(device_)).pooled;
  prompt.prompt_embeds = t5_->forward(ids_tensor(t5_ids).to(device_));
  prompt.text_ids = text_ids(prompt.prompt_embeds.size(1), dtype_).to(device_);
  return prompt;
}

at::Tensor FluxPipeline::vae_input_latents(const at::Tensor& packed, int64_t width,
                                           int64_t height) const {
  const AutoencoderKLConfig& config = vae_->config();
  const at::Tensor latents = unpack_latents(packed, latent_size(height, vae_scale_factor()),
                                            latent_size(width, vae_scale_factor()));
  return latents / config.scaling_factor + config.shift_factor;
}

at::Tensor FluxPipeline::decode_latents(const at::Tensor& packed, int64_t width,
                                        int64_t height) const {
  c10::InferenceMode guard;
  return vae_->decode(vae_input_latents(packed, width, height));
}

std::vector<Image> FluxPipeline::generate(const GenerateParams& params,
                                          const GenerateCallbacks& callbacks) const {
  check_params(params);
  c10::InferenceMode guard;
  const Clock::time_point start = Clock::now();
  const PromptEmbeddings prompt = encode_prompt(params.clip_ids, params.t5_ids);
  if (callbacks.on_phase) callbacks.on_phase("encode_prompt", seconds_since(start));
  std::vector<Image> images;
  for (int i = 0; i < params.n; ++i) {
    images.push_back(generate_one(params, prompt, i, callbacks));
  }
  return images;
}

Image FluxPipeline::generate_one(const GenerateParams& params, const PromptEmbeddings& prompt,
                                 int index, const GenerateCallbacks& callbacks) const {
  std::optional<TensorDump> dump;
  if (!params.dump_dir.empty()) {
    dump.emplace(index == 0 ? params.dump_dir
                            : params.dump_dir + "/image-" + std::to_string(index));
  }
  const uint64_t seed = params.seed + static_cast<uint64_t>(index);
  const int64_t latent_height = latent_size(params.height, vae_scale_factor());
  const int64_t latent_width = latent_size(params.width, vae_scale_factor());
  const FluxTransformerConfig& config = transformer_->config();

  Clock::time_point phase_start = Clock::now();
  at::Tensor latents =
      pack_latents(initial_noise(config.in_channels / 4, latent_height, latent_width, seed, dtype_))
          .to(device_);
  const at::Tensor image_ids =
      latent_image_ids(latent_height / 2, latent_width / 2, dtype_).to(device_);
  const FlowMatchSchedule schedule =
      flow_match_schedule(params.steps, latents.size(1), scheduler_config_);
  std::optional<at::Tensor> guidance;
  if (config.guidance_embeds) {
    guidance =
        at::full({1}, params.guidance, at::TensorOptions().dtype(at::kFloat).device(device_));
  }
  if (dump) {
    dump->write("clip_input_ids", ids_tensor(params.clip_ids));
    dump->write("t5_input_ids", ids_tensor(params.t5_ids));
    dump->write("prompt_embeds", prompt.prompt_embeds);
    dump->write("pooled_prompt_embeds", prompt.pooled);
    dump->write("text_ids", prompt.text_ids);
    dump->write("latent_image_ids", image_ids);
    dump->write("initial_latents", latents);
    dump->write("sigmas", float_tensor(schedule.sigmas));
    dump->write("timesteps", float_tensor(schedule.timesteps));
    if (guidance) dump->write("guidance", *guidance);
  }

  std::vector<at::Tensor> step_latents_in, step_timestep_in, step_noise_pred, step_latents_out;
  for (int step = 0; step < params.steps; ++step) {
    check_cancelled(callbacks, "before step " + std::to_string(step + 1) + " of " +
                                   std::to_string(params.steps));
    const Clock::time_point step_start = Clock::now();
    // The pipeline hands the model t / 1000 in the latents' dtype; the model scales it back.
    const at::Tensor timestep = at::full({1}, schedule.timesteps[step],
                                         at::TensorOptions().dtype(at::kFloat).device(device_))
                                    .to(dtype_) /
                                1000;
    FluxTransformerInputs inputs;
    inputs.hidden_states = latents;
    inputs.encoder_hidden_states = prompt.prompt_embeds;
    inputs.pooled_projections = prompt.pooled;
    inputs.timestep = timestep;
    inputs.img_ids = image_ids;
    inputs.txt_ids = prompt.text_ids;
    inputs.guidance = guidance;
    const at::Tensor noise_pred = transformer_->forward(inputs);
    const at::Tensor next =
        euler_step(latents, noise_pred, schedule.sigmas[step], schedule.sigmas[step + 1]);
    if (dump) {
      step_latents_in.push_back(latents);
      step_timestep_in.push_back(timestep);
      step_noise_pred.push_back(noise_pred);
      step_latents_out.push_back(next);
    }
    latents = next;
    if (callbacks.on_step) callbacks.on_step(step + 1, params.steps, seconds_since(step_start));
  }
  if (callbacks.on_phase) callbacks.on_phase("denoise", seconds_since(phase_start));
  if (dump) {
    dump->write("step_latents_in", at::stack(step_latents_in));
    dump->write("step_timestep_in", at::stack(step_timestep_in));
    dump->write("step_noise_pred", at::stack(step_noise_pred));
    dump->write("step_latents_out", at::stack(step_latents_out));
    dump->write("final_latents", latents);
  }

  check_cancelled(callbacks, "before decoding");
  phase_start = Clock::now();
  const at::Tensor vae_input = vae_input_latents(latents, params.width, params.height);
  const at::Tensor decoded = vae_->decode(vae_input);
  const at::Tensor unit_image = to_unit_images(decoded);
  const at::Tensor rgb = to_uint8_images(unit_image).to(at::kCPU).contiguous();
  if (dump) {
    dump->write("vae_input_latents", vae_input);
    dump->write("vae_decoded", decoded);
    dump->write("image", unit_image[0]);
  }
  if (callbacks.on_phase) callbacks.on_phase("vae_decode", seconds_since(phase_start));

  Image image;
  image.width = params.width;
  image.height = params.height;
  image.seed = seed;
  const uint8_t* pixels = rgb.data_ptr<uint8_t>();
  image.rgb.assign(pixels, pixels + rgb.numel());
  return image;
}

}  // namespace flx::flux
