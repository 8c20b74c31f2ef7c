// sampling_observer.h — what FluxPipeline shows an observer while it makes one image, so that
// debugging aids (the tensor dump of `generate --dump`) watch the sampling loop from outside
// instead of living in it. Every tensor is borrowed for the call.
#ifndef FLX_FLUX_MODEL_SAMPLING_OBSERVER_H_
#define FLX_FLUX_MODEL_SAMPLING_OBSERVER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/flow_match_scheduler.h"
#include "model/prompt_cache.h"
#include "model/tensor_dump.h"

namespace flx::flux {

// The inputs of the sampling loop, before the first step.
struct SamplingStart {
  const std::vector<int64_t>& clip_ids;
  const std::vector<int64_t>& t5_ids;
  const PromptEmbeddings& prompt;
  const at::Tensor& image_ids;
  const at::Tensor& initial_latents;
  const FlowMatchSchedule& schedule;
  const std::optional<at::Tensor>& guidance;
};

// One denoising step: the latents it started from, the timestep the model saw, the
// prediction and the latents after the Euler step.
struct SamplingStep {
  const at::Tensor& latents_in;
  const at::Tensor& timestep;
  const at::Tensor& noise_pred;
  const at::Tensor& latents_out;
};

// The decoder's input and output, and the image in [0, 1] before 8-bit rounding.
struct DecodedImage {
  const at::Tensor& vae_input;
  const at::Tensor& decoded;
  const at::Tensor& unit_image;
};

class SamplingObserver {
 public:
  virtual ~SamplingObserver() = default;
  virtual void on_start(const SamplingStart& start) = 0;
  virtual void on_step(const SamplingStep& step) = 0;
  virtual void on_denoised(const at::Tensor& final_latents) = 0;
  virtual void on_decoded(const DecodedImage& image) = 0;
};

// Writes every observed tensor into a golden-format folder (tensor_dump.h): clip_input_ids,
// t5_input_ids, prompt_embeds, pooled_prompt_embeds, text_ids, latent_image_ids,
// initial_latents, sigmas, timesteps, guidance (when used), the stacked step_latents_in,
// step_timestep_in, step_noise_pred, step_latents_out, final_latents, vae_input_latents,
// vae_decoded and image (the first of the batch).
class TensorDumpObserver final : public SamplingObserver {
 public:
  // Creates `directory` now, so a bad path fails before any sampling (std::runtime_error).
  explicit TensorDumpObserver(std::string directory);
  void on_start(const SamplingStart& start) override;
  void on_step(const SamplingStep& step) override;
  void on_denoised(const at::Tensor& final_latents) override;
  void on_decoded(const DecodedImage& image) override;

 private:
  TensorDump dump_;
  std::vector<at::Tensor> latents_in_, timesteps_, noise_preds_, latents_out_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_SAMPLING_OBSERVER_H_
