#include "stage_settings.h"

#include <algorithm>
#include <stdexcept>

#include "model/vae_tiling.h"

namespace flx::flux {

int64_t device_memory_bytes(const DeviceChoice& choice, const HardwareInfo& hardware,
                            int64_t cpu_memory_bytes) {
  if (!choice.device.is_cuda()) return cpu_memory_bytes;
  const auto index = static_cast<size_t>(std::max<int>(0, choice.device.index()));
  return index < hardware.cuda_memory_bytes.size() ? hardware.cuda_memory_bytes[index] : 0;
}

StageSettings resolve_stage_settings(const FluxOptions& options, const HardwareInfo& hardware,
                                     const flx::Config& config, std::vector<std::string>* errors,
                                     int64_t cpu_memory_bytes) {
  StageSettings settings;
  auto attempt = [&](auto&& resolve) {
    try {
      resolve();
    } catch (const std::invalid_argument& e) {
      errors->push_back(config.error(e.what()).what());
    }
  };
  attempt([&] { settings.device = select_device_dtype(options.device, options.dtype, hardware); });
  attempt([&] { settings.threads = select_threads(options.threads, hardware); });
  attempt([&] { settings.attention = parse_attention_slicing(options.attention_slicing); });
  attempt([&] { settings.offload = parse_offload_mode(options.offload); });
  settings.vae.slicing = options.vae_slicing;
  settings.vae.tiling = options.vae_tiling;
  settings.vae.tile = VaeTiling{options.vae_tile_size, options.vae_tile_overlap};
  attempt([&] {
    settings.memory = resolve_memory_budget(
        options.memory_budget, options.buffer_pool_idle_max,
        device_memory_bytes(settings.device, hardware, cpu_memory_bytes),
        settings.device.device_name + " memory");
  });
  return settings;
}

void check_stage_vae_tiling(const VaeDecodeOptions& vae, int64_t scale_factor,
                            const flx::Config& config) {
  try {
    check_vae_tiling(vae.tile, scale_factor);
  } catch (const std::invalid_argument& e) {
    throw config.error(e.what());
  }
}

CallKnobs call_knobs(const StageSettings& settings, const ResolvedRequest& request) {
  CallKnobs knobs{settings.attention, settings.vae};
  if (request.attention_slicing) {
    try {
      knobs.attention = parse_attention_slicing(*request.attention_slicing);
    } catch (const std::invalid_argument& e) {
      throw flx::Error(FLX_INVALID_ARGUMENT, std::string("override ") + e.what())
          .detail("param", FLX_KNOB_ATTENTION_SLICING);
    }
  }
  if (request.vae_tiling) knobs.vae.tiling = *request.vae_tiling;
  if (request.vae_slicing) knobs.vae.slicing = *request.vae_slicing;
  return knobs;
}

}  // namespace flx::flux
