// flow_match_scheduler.h — diffusers' FlowMatchEulerDiscreteScheduler as FluxPipeline drives
// it (0.32.2): the sigma schedule and the Euler update of the rectified-flow ODE.
#ifndef FLX_FLUX_MODEL_FLOW_MATCH_SCHEDULER_H_
#define FLX_FLUX_MODEL_FLOW_MATCH_SCHEDULER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "model/json_config.h"

namespace flx::flux {

// The fields of scheduler/scheduler_config.json the schedule depends on. Options FLUX
// checkpoints never set (karras/exponential/beta sigmas, shift_terminal, invert_sigmas) are
// rejected at load rather than silently ignored.
struct FlowMatchSchedulerConfig {
  int64_t num_train_timesteps = 1000;
  double shift = 1.0;
  bool use_dynamic_shifting = false;
  double base_shift = 0.5;
  double max_shift = 1.15;
  int64_t base_image_seq_len = 256;
  int64_t max_image_seq_len = 4096;

  // Reads `config`; throws LoadError naming the file and key for a missing, bad or
  // unsupported value.
  static FlowMatchSchedulerConfig from_json(const JsonConfig& config);
};

// FluxPipeline's calculate_shift: mu linear in the image token count, through
// (base_image_seq_len, base_shift) and (max_image_seq_len, max_shift), in float64.
double calculate_shift(int64_t image_seq_len, const FlowMatchSchedulerConfig& config);

// The schedule of one generation.
struct FlowMatchSchedule {
  std::vector<float> sigmas;     // steps + 1 values, from about 1 down to the final 0
  std::vector<float> timesteps;  // steps values, sigmas * num_train_timesteps
};

// The schedule FluxPipeline builds for `steps` steps on `image_seq_len` packed tokens:
// sigmas = np.linspace(1, 1/steps, steps) rounded to float32, then either the exponential
// time shift with mu = calculate_shift(image_seq_len) (use_dynamic_shifting) or the static
// shift*s / (1 + (shift-1)*s), every operation in float32 as numpy performs it; then
// timesteps = sigmas * num_train_timesteps and a final sigma of 0.
// Throws std::invalid_argument when steps < 1.
FlowMatchSchedule flow_match_schedule(int steps, int64_t image_seq_len,
                                      const FlowMatchSchedulerConfig& config);

// One Euler step: sample + (sigma_next - sigma) * velocity, with the difference taken in
// float32; the result has the velocity's dtype, as in the scheduler's step().
at::Tensor euler_step(const at::Tensor& sample, const at::Tensor& velocity, float sigma,
                      float sigma_next);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_FLOW_MATCH_SCHEDULER_H_
