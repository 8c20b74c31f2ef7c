#include "model/sampling_observer.h"

#include <ATen/ATen.h>

#include <utility>

#include "model/tensor_dump.h"

namespace flx::flux {

namespace {

at::Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return at::tensor(at::ArrayRef<int64_t>(ids), at::TensorOptions().dtype(at::kLong))
      .view({1, static_cast<int64_t>(ids.size())});
}

at::Tensor float_tensor(const std::vector<float>& values) {
  return at::tensor(at::ArrayRef<float>(values), at::TensorOptions().dtype(at::kFloat));
}

}  // namespace

TensorDumpObserver::TensorDumpObserver(std::string directory) : dump_(std::move(directory)) {}

void TensorDumpObserver::on_start(const SamplingStart& start) {
  dump_.write("clip_input_ids", ids_tensor(start.clip_ids));
  dump_.write("t5_input_ids", ids_tensor(start.t5_ids));
  dump_.write("prompt_embeds", start.prompt.prompt_embeds);
  dump_.write("pooled_prompt_embeds", start.prompt.pooled);
  dump_.write("text_ids", start.prompt.text_ids);
  dump_.write("latent_image_ids", start.image_ids);
  dump_.write("initial_latents", start.initial_latents);
  dump_.write("sigmas", float_tensor(start.schedule.sigmas));
  dump_.write("timesteps", float_tensor(start.schedule.timesteps));
  if (start.guidance) dump_.write("guidance", *start.guidance);
}

void TensorDumpObserver::on_step(const SamplingStep& step) {
  latents_in_.push_back(step.latents_in);
  timesteps_.push_back(step.timestep);
  noise_preds_.push_back(step.noise_pred);
  latents_out_.push_back(step.latents_out);
}

void TensorDumpObserver::on_denoised(const at::Tensor& final_latents) {
  dump_.write("step_latents_in", at::stack(latents_in_));
  dump_.write("step_timestep_in", at::stack(timesteps_));
  dump_.write("step_noise_pred", at::stack(noise_preds_));
  dump_.write("step_latents_out", at::stack(latents_out_));
  dump_.write("final_latents", final_latents);
}

void TensorDumpObserver::on_decoded(const DecodedImage& image) {
  dump_.write("vae_input_latents", image.vae_input);
  dump_.write("vae_decoded", image.decoded);
  dump_.write("image", image.unit_image[0]);
}

}  // namespace flx::flux
