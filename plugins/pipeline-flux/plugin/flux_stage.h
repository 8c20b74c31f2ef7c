// flux_stage.h — the `flux` pipeline stage: FLUX.1 text-to-image behind the fluxserve ABI.
//
// Life cycle: create() reads the config (flux_options.h), resolves device, dtype, threads,
// attention slicing and offload against this machine (stage_settings.h) and logs them in one
// line with their reasons and the BLAS, resolves the model path and reads the transformer
// and VAE configs (guidance embedding, VAE scale factor, which the VAE tile geometry is
// checked against), so a bad value, path or config fails at create, located at the stage's
// `config:`; nothing heavy loads there (a dry run stops after this). Loading emits the gauge
// "weights_bytes": every weight's element count times the compute dtype's size. prepare()
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
// settings for the call. dtype and offload are fixed when the weights load and one copy of
// the weights is kept (a second copy in another dtype would add the weights' memory again,
// 24 GB or more for FLUX.1, while recovering from running out of memory), so an override
// equal to the stage's value (aliases included) changes nothing and any other is ignored: it
// is logged and listed in the result's parameter "ignored_overrides" ("dtype=float16",
// comma-separated).
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
#include "model/device_selection.h"
#include "request_params.h"
#include "stage_settings.h"

namespace flx::flux {

class ClipTokenizer;
class FluxPipeline;
class IsolatedT5Tokenizer;

class FluxStage : public flx::Pipeline {
 public:
  explicit FluxStage(const flx::StageContext& context);
  ~FluxStage() override;

  void prepare() override;
  void generate(const flx_request& request, flx_result* result) override;
  std::string describe() override;

 private:
  struct Model;

  // The loaded model, loading it first when needed (thread-safe; loads once).
  std::shared_ptr<const Model> ensure_loaded(const flx_call* call);
  void warm_up(const Model& model);
  // The try's preparation that comes before any heavy work: empty_cache, then fault injection
  // (throws RESOURCE_EXHAUSTED when this try is chosen to fail).
  void begin_try(const ResolvedRequest& request, const flx_call* call);
  void set_warmup(WarmupState state, std::optional<double> ms = std::nullopt);
  // Applies or ignores the request's dtype and offload overrides (see above), recording them
  // in `result`.
  void apply_load_time_overrides(const ResolvedRequest& request, const flx_call* call,
                                 flx_result* result) const;

  const flx::Host host_;
  FluxOptions options_;
  HardwareInfo hardware_;
  StageSettings settings_;
  ModelPaths paths_;
  ModelDefaults defaults_;
  int64_t vae_scale_factor_ = 0;
  bool guidance_embeds_ = false;
  std::atomic<int64_t> tries_{0};  // tries so far, counted while fault injection is on

  std::mutex load_mutex_;           // held while loading, so concurrent first calls load once
  mutable std::mutex state_mutex_;  // guards the members below
  std::shared_ptr<const Model> model_;
  WarmupState warmup_state_ = WarmupState::kDisabled;
  std::optional<double> warmup_ms_;
  std::optional<int64_t> weights_bytes_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_FLUX_STAGE_H_
