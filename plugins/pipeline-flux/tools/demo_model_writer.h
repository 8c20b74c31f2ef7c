// demo_model_writer.h — writes a complete random-weight FLUX.1 checkpoint in the diffusers
// folder layout, tokenizers included, so fluxserve runs real pipeline code on a fresh machine
// with no download. The images such a model makes are noise: the weights are random.
//
// Files written under the target folder:
//   model_index.json, README.md
//   scheduler/scheduler_config.json
//   tokenizer/{vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json}
//       byte-level BPE learned from demo_corpus() (see clip_bpe_trainer.h)
//   tokenizer_2/{spiece.model, tokenizer_config.json, special_tokens_map.json}
//       SentencePiece unigram model (about 1000 pieces) trained on the same corpus
//   text_encoder/{config.json, model.safetensors}                  CLIPTextModel
//   text_encoder_2/{config.json, model.safetensors}                T5EncoderModel
//   transformer/{config.json, diffusion_pytorch_model.safetensors} FluxTransformer2DModel
//   vae/{config.json, diffusion_pytorch_model.safetensors}         AutoencoderKL
// All weights are float32 (or --dtype bfloat16) safetensors with metadata {"format": "pt"},
// written one tensor at a time (a checkpoint larger than memory can be written).
//
// With `quantize` (q8_0, q4_k, q5_k, q6_k) the transformer and the T5 encoder are written
// instead as GGUF files the way the community publishes FLUX.1 (io/checkpoint_quantizer.h
// type policy), next to the folder's configs:
//   flux1-<preset>-demo-<TYPE>.gguf   transformer, black-forest-labs names, arch "flux"
//   t5-encoder-demo-<TYPE>.gguf       T5 encoder, llama.cpp names, arch "t5encoder"
// and no transformer/ or text_encoder_2/ weights; the README gives the stage config
// (model: the flux1 file, base: the folder, text_encoder_2_file: the t5 file).
#ifndef FLX_FLUX_TOOLS_DEMO_MODEL_WRITER_H_
#define FLX_FLUX_TOOLS_DEMO_MODEL_WRITER_H_

#include <cstdint>
#include <ostream>
#include <string>

namespace flx::flux::demo {

struct DemoModelOptions {
  std::string directory;
  std::string preset = "tiny";
  uint64_t seed = 0;
  // "float32" or "bfloat16": the dtype of every weight file (the safetensors dtype, so the
  // pipeline loads bfloat16 zero-copy when it computes in bfloat16).
  std::string dtype = "float32";
  // Write into a folder that already holds files (ours are replaced, others are kept).
  bool force = false;
  // "none", or the GGUF type of the transformer and T5 files (see above).
  std::string quantize = "none";
  // CLIP-L's 12 layers and T5-XXL's 24 instead of the preset's (wide and schnell only): with
  // schnell, FLUX.1-schnell's exact architecture in every component.
  bool full_text_encoders = false;
};

// Writes the model, reporting each file on `log`. Throws std::runtime_error (or LoadError
// from the safetensors writer) naming the folder or file when the folder is not empty and
// `force` is false, the preset, dtype or quantize type is unknown, full_text_encoders is asked
// of the tiny preset, or a file cannot be written.
void write_demo_model(const DemoModelOptions& options, std::ostream& log);

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_DEMO_MODEL_WRITER_H_
