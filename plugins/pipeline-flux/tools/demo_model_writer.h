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
// All weights are float32 safetensors with metadata {"format": "pt"}.
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
};

// Writes the model, reporting each file on `log`. Throws std::runtime_error (or LoadError
// from the safetensors writer) naming the folder or file when the folder is not empty and
// `force` is false, the preset or dtype is unknown, or a file cannot be written.
void write_demo_model(const DemoModelOptions& options, std::ostream& log);

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_DEMO_MODEL_WRITER_H_
