// flx_pipeline_flux: the FLUX.1 pipeline plugin. One factory, type `flux` (flux_stage.h),
// not thread-safe on purpose (the host serialises its calls). It declares the settings an
// operator may give from the environment (FLUX_*) or as `fluxserve generate` flags; the
// host applies them without knowing this plugin (flx_setting in flx.h).
#include <flx/vocabulary.h>

#include <flx/plugin.hpp>

#include "flux_stage.h"

namespace {

const flx_setting kSettings[] = {
    flx::setting("model", FLX_SETTING_STRING, nullptr, "--model", "PATH",
                 "diffusers folder, Hugging Face repo id in the local cache, or single-file "
                 "transformer (.safetensors, fp8, .gguf; then also --base)",
                 nullptr, FLX_SETTING_REQUIRED),
    flx::setting("base", FLX_SETTING_STRING, nullptr, "--base", "PATH",
                 "diffusers folder supplying text encoders, tokenizers and VAE for a "
                 "single-file --model"),
    flx::setting("text_encoder_2_file", FLX_SETTING_STRING, nullptr, "--text-encoder-2", "FILE",
                 "T5 encoder weights instead of the model's (.gguf, .safetensors)"),
    flx::setting("quantize", FLX_SETTING_STRING, nullptr, "--quantize", "TYPE",
                 "quantize float transformer and T5 weights on load: q8_0, q4_k, q5_k, q6_k, "
                 "fp8, none, or auto (the least lossy that fits the memory budget)"),
    flx::setting("memory_budget", FLX_SETTING_BYTES, nullptr, "--memory-budget", "SIZE",
                 "what a generation may hold, e.g. 10GiB (default auto: 85% of the memory)"),
    flx::setting("release_unused_weights", FLX_SETTING_STRING, nullptr, "--release-unused-weights",
                 "B", "true, false or auto: give back the pages of components not in use"),
    flx::setting("device", FLX_SETTING_STRING, "FLUX_DEVICE", "--device", "D",
                 "auto, cpu, cuda, cuda:N or mps"),
    flx::setting(FLX_KNOB_DTYPE, FLX_SETTING_STRING, "FLUX_DTYPE", "--dtype", "D",
                 "auto, float32, bfloat16 or float16"),
    flx::setting("threads", FLX_SETTING_STRING, "FLUX_THREADS", "--threads", "N",
                 "auto (the physical cores this process may run on) or a count"),
    flx::setting(FLX_KNOB_ATTENTION_SLICING, FLX_SETTING_STRING, "FLUX_ATTENTION_SLICING",
                 "--attention-slicing", "S", "off, auto, max or a number of chunks"),
    flx::setting(FLX_KNOB_VAE_SLICING, FLX_SETTING_BOOL, "FLUX_VAE_SLICING", "--vae-slicing", "B",
                 "decode the batch one image at a time"),
    flx::setting(FLX_KNOB_VAE_TILING, FLX_SETTING_BOOL, "FLUX_VAE_TILING", "--vae-tiling", "B",
                 "decode in overlapping tiles"),
    flx::setting(FLX_KNOB_OFFLOAD, FLX_SETTING_STRING, "FLUX_OFFLOAD", "--offload", "M",
                 "none, model, sequential or auto (accelerators only)"),
    flx::setting("lora_dir", FLX_SETTING_STRING, "FLUX_LORA_DIR", "--lora-dir", "DIR",
                 "folder of LoRA adapters (<name>.safetensors) requests may name"),
    flx::setting("warmup", FLX_SETTING_BOOL, "FLUX_WARMUP_ENABLE", nullptr, nullptr,
                 "run one small generation before reporting ready", "false"),
    flx::setting("load", FLX_SETTING_STRING, nullptr, nullptr, nullptr,
                 "eager: load at start-up; lazy: at the first request", "eager"),
};

}  // namespace

FLX_PLUGIN("flx_pipeline_flux", "0.1.0",
           flx::pipeline_factory<flx::flux::FluxStage>("flux", "0.1.0", /*flags=*/0,
                                                       flx::settings(kSettings)))
