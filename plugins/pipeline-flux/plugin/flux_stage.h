// flux_stage.h — the `flux` pipeline stage: FLUX.1 text-to-image behind the fluxserve ABI.
//
// Life cycle: create() reads the config (flux_options.h), resolves the model path and reads
// the transformer and VAE configs (guidance embedding, VAE scale factor), so a bad path or
// config fails at create with the location of the `model:` key; nothing heavy loads there
// (a dry run stops after this). prepare() loads the networks and tokenizers (load: eager) and
// runs the warm-up; with load: lazy the first generate() loads them instead.
//
// generate() tokenizes the prompts with the checkpoint's own tokenizers, runs FluxPipeline
// and reports FLX_EVENT_PHASE events "tokenize", "text_encode", then per image "denoise" and
// "vae_decode" (plus "load" when a lazy load happened in the call), and FLX_EVENT_STEP after
// each denoising step. Cancellation is checked before tokenizing, before each step and before
// decoding. Effective parameters are recorded as steps, width, height, guidance ("ignored"
// for models without a guidance embedding), max_sequence_length, dtype and device, plus the
// recovery overrides applied (request_params.h).
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
#include "request_params.h"

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

  const flx::Host host_;
  FluxOptions options_;
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
};

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_FLUX_STAGE_H_
