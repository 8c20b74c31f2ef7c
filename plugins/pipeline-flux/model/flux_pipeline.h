// flux_pipeline.h — text-to-image generation with a FLUX.1 checkpoint in the diffusers folder
// layout, computing what diffusers 0.32.2 FluxPipeline computes (prompt encoding with CLIP
// and T5, rectified-flow sampling with the flow-match Euler scheduler, VAE decoding).
#ifndef FLX_FLUX_MODEL_FLUX_PIPELINE_H_
#define FLX_FLUX_MODEL_FLUX_PIPELINE_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <flx/vocabulary.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "model/attention.h"
#include "model/autoencoder_kl.h"
#include "model/cancellation.h"
#include "model/clip_text_model.h"
#include "model/flow_match_scheduler.h"
#include "model/flux_transformer.h"
#include "model/weight_overlay.h"
#include "model/image_edit.h"
#include "model/latent_preview.h"
#include "model/noise_generator.h"
#include "model/offload_executor.h"
#include "model/prompt_cache.h"
#include "model/sampling_observer.h"
#include "model/t5_encoder.h"
#include "model/weights_plan.h"

namespace flx::flux {


// What to generate. Token ids come from the io tokenizers: `clip_ids` is the CLIP tokenizer's
// output for the prompt (BOS, tokens, EOS, padded to 77), `t5_ids` the T5 tokenizer's output
// for prompt_2 (or the prompt), padded to max_sequence_length.
struct GenerateParams {
  std::vector<int64_t> clip_ids;
  std::vector<int64_t> t5_ids;
  // Image size in pixels; both must be positive multiples of 2 * vae_scale_factor().
  int64_t width = 1024;
  int64_t height = 1024;
  int steps = 4;
  // Only read by guidance-distilled models (transformer config "guidance_embeds": true).
  double guidance = 3.5;
  // Image i of the n is drawn from a CPU generator seeded with seed + i (see
  // noise_generator.h).
  uint64_t seed = 0;
  int n = 1;
  // Memory-for-speed trades of this call (the stage's attention_slicing and vae_* settings,
  // or a recovery policy's overrides). The defaults compute exactly what diffusers computes.
  // `attention` bounds the score matrices of the transformer's and the VAE's attention.
  AttentionOptions attention;
  // VAE slicing, tiling and tile geometry; the tiling is checked before any denoising.
  VaeDecodeOptions vae;
  // An edit (image-to-image, or inpainting with a mask) at width x height; null for
  // text-to-image. Shared: the caller's copy and each image's use are the same pixels.
  std::shared_ptr<const EditImages> edit;
  // The transformer layers a request's LoRA adapters changed (lora_merge.h), in force on
  // this thread while it denoises; null = the base weights.
  std::shared_ptr<const WeightOverlay> lora_overlay;
  // When not empty, every intermediate tensor of image 0 is written here (image i > 0 goes to
  // dump_dir/image-<i>) with the file names and sidecars of the golden folders (clip_input_ids,
  // prompt_embeds, ..., step_noise_pred, ..., vae_decoded, image; guidance when used).
  std::string dump_dir;
};

// Progress reporting and cancellation; every member may be left empty.
struct GenerateCallbacks {
  // After each denoising step: step counts from 1 to total; seconds the step took.
  std::function<void(int step, int total, double seconds)> on_step;
  // After each phase (flx/vocabulary.h: FLX_PHASE_TEXT_ENCODE, then per image
  // FLX_PHASE_DENOISE and FLX_PHASE_VAE_DECODE).
  std::function<void(const std::string& phase, double seconds)> on_phase;
  // Asked before each denoising step and decoding, and inside them at every block, attention
  // slice and VAE tile (cancellation.h); true aborts with Cancelled.
  std::function<bool()> cancelled;
  // Previews: asked after each denoising step whether one is wanted; when it is, given the
  // latent-resolution RGB projection of the step's clean-image estimate (latent_preview.h).
  std::function<bool(int step, int total)> preview_wanted;
  std::function<void(int step, int total, const PreviewImage& preview)> on_preview;
};

// One generated image: 8-bit RGB, rows top to bottom, width * 3 bytes per row.
struct Image {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> rgb;
  uint64_t seed = 0;
};

// Settings fixed for a pipeline's lifetime.
struct FluxPipelineOptions {
  // Where the weights live between uses (see offload_planner.h). Accepted on the CPU, where
  // it has no effect; offload_summary() says so. With an active mode (an accelerator and not
  // none), generate(), encode_prompt() and decode_latents() run one call at a time, because
  // they move weights the calls share.
  OffloadMode offload = OffloadMode::kNone;
  // Prompts whose embeddings are kept (see prompt_cache.h); 0 keeps none.
  size_t text_cache_size = 0;
  // `quantize:` per component: float linear weights of the transformer / T5 encoder are
  // quantized to this type as they load (weights.h QuantizeOnLoad); ignored for weights
  // already quantized in the file and for offloaded components.
  std::optional<DType> quantize_transformer;
  std::optional<DType> quantize_text_encoder_2;
};

class FluxPipeline {
 public:
  // Loads the configs (transformer/, vae/, text_encoder/, text_encoder_2/ config.json and
  // scheduler/scheduler_config.json under paths.root) and the weights the io layer resolves
  // (including a single-file transformer or VAE when `paths` names one), in `dtype` on
  // `device` (zero-copy where the file already has that dtype and the device is the CPU).
  // Throws LoadError naming the file, key or tensor that is missing or wrong, and
  // std::invalid_argument when this libtorch cannot compute in `dtype` on `device`. With an
  // active offload mode the weights load on the host instead (see FluxPipelineOptions).
  FluxPipeline(const ModelPaths& paths, c10::ScalarType dtype, c10::Device device,
               const FluxPipelineOptions& options = {});
  // The same for a plain diffusers folder.
  FluxPipeline(const std::string& model_dir, c10::ScalarType dtype, c10::Device device,
               const FluxPipelineOptions& options = {});

  // Generates params.n images. Throws std::invalid_argument for bad parameters (naming the
  // parameter), Cancelled when callbacks.cancelled says so. Safe to call concurrently. With a
  // prompt cache, a cached prompt skips both text encoders (FLX_PHASE_TEXT_ENCODE is still
  // reported, taking about no time).
  std::vector<Image> generate(const GenerateParams& params,
                              const GenerateCallbacks& callbacks = {}) const;

  // The stages generate() runs, for callers that drive them separately. encode_prompt() uses
  // the prompt cache like generate().
  PromptEmbeddings encode_prompt(const std::vector<int64_t>& clip_ids,
                                 const std::vector<int64_t>& t5_ids) const;
  // Unpacks final latents [B, N, 4C] of width x height images into the VAE's latent space:
  // [B, C, h, w] = unpacked / scaling_factor + shift_factor.
  at::Tensor vae_input_latents(const at::Tensor& packed, int64_t width, int64_t height) const;
  // vae_input_latents() decoded: the raw decoder output [B, 3, height, width], about [-1, 1].
  // options.slicing decodes the B images one at a time.
  at::Tensor decode_latents(const at::Tensor& packed, int64_t width, int64_t height,
                            const VaeDecodeOptions& options = {},
                            const AttentionOptions& attention = {}) const;

  // What the offload setting does here, for the startup log: "offload none: every component
  // on cpu", "offload model has no effect on cpu", or where each component's weights live when.
  std::string offload_summary() const { return offload_->summary(); }
  // The prompt cache, or nullptr when text_cache_size is 0.
  const PromptCache* prompt_cache() const { return prompt_cache_.get(); }
  // How many times the text encoders have run (cache hits do not run them).
  uint64_t prompt_encodings() const { return prompt_encodings_; }

  // What the networks hold when they are all loaded: every weight's element count times the
  // compute dtype's size, except matrices kept quantized, which count their stored bytes.
  int64_t weights_bytes() const { return weights_plan_.total_bytes(); }
  // Per component ("transformer", "text_encoder_2", ...): the storage types and bytes held.
  using ComponentWeights = flx::flux::ComponentWeights;
  const std::map<std::string, ComponentWeights>& component_weights() const {
    return weights_plan_.components();
  }
  // Every component's weight files, opened (memory-mapped, headers parsed, nothing read),
  // by component name. Throws LoadError as the constructor does for a missing or unreadable
  // file.
  using WeightStores = std::map<std::string, TensorStore>;
  static WeightStores open_weight_stores(const ModelPaths& paths);
  // What the constructor would hold for `stores` in `dtype` on `device` under `options`, from
  // the headers alone: open the stores once, plan as many settings as needed.
  static WeightsPlan plan_weights(const WeightStores& stores, c10::ScalarType dtype,
                                  c10::Device device, const FluxPipelineOptions& options);
  const FluxPipelineOptions& options() const { return options_; }

  // Whether generate() gives back the file pages of the components it is done with: the
  // CLIP and T5 encoders' after encoding the prompt, the transformer's after the last image's
  // denoising (TensorStore::release_file_pages). For machines where the weights do not all
  // fit at once: each use faults the pages back from the page cache (or the disk when memory
  // is short), which costs time, never correctness; concurrent calls share the pages.
  // Set before the pipeline is shared.
  void set_release_unused_weights(bool release) { release_unused_weights_ = release; }
  bool release_unused_weights() const { return release_unused_weights_; }
  // The weight bytes the memory budget sees at once at the widest point of a generation
  // (WeightsPlan::peak_bytes): on the CPU weights_bytes(), or with release_unused_weights()
  // less the components not in use; on an accelerator what the offload mode puts there.
  int64_t peak_weights_bytes() const;

  // 2^(len(vae block_out_channels) - 1); image sizes are multiples of twice this.
  int64_t vae_scale_factor() const { return vae_->config().scale_factor(); }
  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }
  const ClipTextModel& clip() const { return *clip_; }
  const T5Encoder& t5() const { return *t5_; }
  const FluxTransformer& transformer() const { return *transformer_; }
  const AutoencoderKL& vae() const { return *vae_; }
  const FlowMatchSchedulerConfig& scheduler_config() const { return scheduler_config_; }

 private:
  // With release_unused_weights(), gives back the file pages of `component`'s weights.
  void release_if_unused(const std::string& component) const;
  // The quantize-on-load policy of `component` under `options` (none for other components).
  static QuantizeOnLoad quantize_policy(const std::string& component,
                                        const FluxPipelineOptions& options);
  void check_params(const GenerateParams& params) const;
  // Holds the offload lock when weights move, else nothing.
  std::unique_lock<std::mutex> offload_lock() const;
  PromptEmbeddings encode_prompt_unlocked(const std::vector<int64_t>& clip_ids,
                                          const std::vector<int64_t>& t5_ids) const;
  PromptEmbeddings run_text_encoders(const std::vector<int64_t>& clip_ids,
                                     const std::vector<int64_t>& t5_ids) const;
  at::Tensor decode_unlocked(const at::Tensor& vae_input, const VaeDecodeOptions& options,
                             const AttentionOptions& attention) const;
  // Image `index` of params.n: start_sampling, denoise, decode_image; a dump folder in
  // params watches it through a TensorDumpObserver (sampling_observer.h).
  Image generate_one(const GenerateParams& params, const PromptEmbeddings& prompt, int index,
                     const GenerateCallbacks& callbacks) const;
  // One image's sampling inputs: its seed, initial noise, position ids, schedule, guidance.
  struct SamplingState {
    uint64_t seed = 0;
    at::Tensor latents;
    at::Tensor image_ids;
    FlowMatchSchedule schedule;
    std::optional<at::Tensor> guidance;
    // Edits: the step sampling starts at; inpainting: the packed clean image latents, the
    // packed noise and mask (1 = repaint) the kept area is rebuilt from after every step.
    int first_step = 0;
    std::optional<at::Tensor> image_latents;
    at::Tensor noise;
    at::Tensor mask;
  };
  // An edit's start (image_edit.h): the image encoded and noised to the strength's sigma.
  void start_edit(const GenerateParams& params, SamplingState* state) const;
  SamplingState start_sampling(const GenerateParams& params, const PromptEmbeddings& prompt,
                               int index, SamplingObserver* observer) const;
  // The flow-match Euler steps from state.latents; returns the final latents.
  at::Tensor denoise(const SamplingState& state, const GenerateParams& params,
                     const PromptEmbeddings& prompt, const GenerateCallbacks& callbacks,
                     SamplingObserver* observer) const;
  // Inpainting after step `step`: the area to keep rebuilt from the image (image_edit.h).
  at::Tensor keep_unmasked(const SamplingState& state, int step, const at::Tensor& latents) const;
  // A preview after `step` of `total` when the callbacks want one: the clean-image estimate of
  // `latents` given the step's `velocity` at `sigma`, projected to RGB.
  void send_preview(const GenerateCallbacks& callbacks, int step, int total,
                    const GenerateParams& params, const at::Tensor& latents,
                    const at::Tensor& velocity, double sigma) const;
  // The VAE decode of `latents` into 8-bit RGB.
  Image decode_image(const at::Tensor& latents, const GenerateParams& params, uint64_t seed,
                     const GenerateCallbacks& callbacks, SamplingObserver* observer) const;

  c10::ScalarType dtype_;
  c10::Device device_;
  FluxPipelineOptions options_;
  WeightsPlan weights_plan_;
  std::map<std::string, TensorStore> component_stores_;
  bool release_unused_weights_ = false;
  NoiseGenerator& noise_;
  std::unique_ptr<PromptCache> prompt_cache_;
  mutable std::atomic<uint64_t> prompt_encodings_{0};
  std::unique_ptr<OffloadExecutor> offload_;
  mutable std::mutex offload_mutex_;
  std::unique_ptr<ClipTextModel> clip_;
  std::unique_ptr<T5Encoder> t5_;
  std::unique_ptr<FluxTransformer> transformer_;
  std::unique_ptr<AutoencoderKL> vae_;
  FlowMatchSchedulerConfig scheduler_config_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_FLUX_PIPELINE_H_
