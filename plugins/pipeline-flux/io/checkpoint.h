// checkpoint.h — where a FLUX.1 model's files are, whichever form the user points at, and
// opening its weights under diffusers names.
//
// A model spec is one of:
//  * a diffusers folder (model_index.json plus the components listed below);
//  * a Hugging Face repo id ("black-forest-labs/FLUX.1-schnell") already in the local hub cache,
//    laid out as <cache>/models--<org>--<name>/snapshots/<revision>/ (a diffusers folder);
//    the revision is the one refs/main names when that file exists, else the only or the most
//    recently modified snapshot;
//  * a single-file transformer checkpoint (.safetensors, fp8 included, or .gguf) in the
//    black-forest-labs layout (double_blocks.N...) or already in diffusers names. It holds the
//    transformer only, so it
//    needs a `base` (a diffusers folder or repo id) for the configs, tokenizers, text encoders
//    and VAE; an ae.safetensors next to the file, when present, supplies the VAE weights.
#ifndef FLX_FLUX_IO_CHECKPOINT_H_
#define FLX_FLUX_IO_CHECKPOINT_H_

#include <optional>
#include <string>

#include "io/tensor_store.h"

namespace flx::flux {

// The files of one resolved model. Every path named here existed when resolve_model() ran.
struct ModelPaths {
  // The diffusers folder supplying model_index.json and, per component, config files:
  // transformer/config.json, vae/config.json, text_encoder/config.json,
  // text_encoder_2/config.json, scheduler/scheduler_config.json; tokenizer/vocab.json and
  // merges.txt; tokenizer_2/spiece.model; and the weights of text_encoder/ and text_encoder_2/
  // ("model.safetensors" or its sharded index).
  std::string root;
  // A single-file transformer checkpoint used instead of root/transformer's weights, or empty.
  std::string transformer_file;
  // A single-file autoencoder (black-forest-labs ae.safetensors) used instead of root/vae's
  // weights, or empty.
  std::string vae_file;
  // A single-file T5 encoder (.safetensors in transformers names, or a llama.cpp-named .gguf)
  // used instead of root/text_encoder_2's weights, or empty.
  std::string text_encoder_2_file;

  // root + "/" + component, e.g. component_dir("tokenizer_2").
  std::string component_dir(const std::string& component) const;
};

// The Hugging Face hub cache folder the way huggingface_hub picks it: $HF_HUB_CACHE, else
// $HF_HOME/hub, else $HOME/.cache/huggingface/hub. Pass the variables' values (nullopt or empty
// when unset); the caller reads the environment.
std::string hf_hub_cache_dir(const std::optional<std::string>& hf_hub_cache,
                             const std::optional<std::string>& hf_home,
                             const std::optional<std::string>& home);

// Resolves `spec` as described at the top of this file. `hf_cache_dir` is where repo ids are
// looked up; `base` is used only when `spec` is a single file, and is itself a folder or repo
// id. A non-empty `text_encoder_2_file` replaces the folder's T5 weights (which may then be
// absent); see use_text_encoder_2_file(). Throws LoadError naming the path looked at and
// everything missing there.
ModelPaths resolve_model(const std::string& spec, const std::string& hf_cache_dir,
                         const std::string& base = "", const std::string& text_encoder_2_file = "");

// Checks that `path` is a T5 encoder weights file (.safetensors or .gguf whose tensors are in
// transformers' or llama.cpp's T5 names) and sets paths->text_encoder_2_file. Throws
// LoadError naming the file otherwise.
void use_text_encoder_2_file(const std::string& path, ModelPaths* paths);

// The transformer weights under diffusers FluxTransformer2DModel names: root/transformer's
// "diffusion_pytorch_model" weights, or transformer_file (mapped when in the black-forest-labs
// layout). Throws LoadError naming the file and tensor.
TensorStore open_transformer_weights(const ModelPaths& paths);
// The autoencoder weights under diffusers AutoencoderKL names, from root/vae or vae_file.
TensorStore open_vae_weights(const ModelPaths& paths);
// The CLIP text encoder weights (root/text_encoder, "model" weights, transformers names).
TensorStore open_text_encoder_weights(const ModelPaths& paths);
// The T5 encoder weights under transformers names: root/text_encoder_2's "model" weights, or
// text_encoder_2_file (mapped from llama.cpp's names when it uses them).
TensorStore open_text_encoder_2_weights(const ModelPaths& paths);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_CHECKPOINT_H_
