#include "demo_model_writer.h"

#include <sentencepiece_processor.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "clip_bpe_trainer.h"
#include "demo_configs.h"
#include "demo_corpus.h"
#include "demo_model_spec.h"
#include "demo_weights.h"
#include "io/checkpoint_quantizer.h"
#include "io/clip_tokenizer.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "io/t5_tokenizer.h"
#include "t5_sentencepiece_trainer.h"

namespace flx::flux::demo {
namespace {

namespace fs = std::filesystem;

// Merges stop earlier than this when no pair occurs twice, which for the built-in corpus
// happens after a few hundred.
constexpr size_t kMaxMerges = 4000;
constexpr int kSentencePieceVocab = 1000;
// T5Tokenizer appends 100 <extra_id_N> ids; T5's embedding rows are rounded up past them.
constexpr int64_t kT5ExtraIds = 100;
constexpr int64_t kT5VocabRounding = 128;
const char* const kSamplePrompt = "a photo of a cat holding a sign that says hello world";

std::string human_size(uintmax_t bytes) {
  char text[32];
  if (bytes >= (uintmax_t{1} << 30)) {
    std::snprintf(text, sizeof(text), "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  } else if (bytes >= (uintmax_t{1} << 20)) {
    std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(text, sizeof(text), "%.1f KiB", static_cast<double>(bytes) / 1024);
  }
  return text;
}

class FolderWriter {
 public:
  FolderWriter(std::string root, std::ostream& log) : root_(std::move(root)), log_(log) {}

  void text(const std::string& relative, const std::string& content) const {
    const std::string path = prepare(relative);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) throw std::runtime_error(path + ": cannot write");
    log_ << "wrote " << path << " (" << human_size(content.size()) << ")\n";
  }

  // Writes `specs` as safetensors of `dtype`, one tensor in memory at a time. Returns the
  // number of parameters written.
  int64_t weights(const std::string& relative, const std::string& component,
                  const std::vector<TensorSpec>& specs, uint64_t seed, DType dtype) const {
    const std::string path = prepare(relative);
    std::vector<TensorLayout> layouts;
    for (const TensorSpec& spec : specs) layouts.push_back({spec.name, dtype, spec.shape});
    write_safetensors_streaming(
        path, layouts,
        [&](size_t i, unsigned char* out, size_t nbytes) {
          const TensorView view = make_tensor(specs[i], seed, component, dtype);
          std::memcpy(out, view.data, nbytes);
        },
        {{"format", "pt"}});
    return report(path, specs);
  }

  // Writes `specs` as a GGUF quantized to `target` with the community's type policy.
  int64_t quantized_weights(const std::string& relative, const std::string& component,
                            CheckpointKind kind, const std::vector<TensorSpec>& specs,
                            uint64_t seed, DType target, const std::string& name) const {
    const std::string path = prepare(relative);
    std::vector<TensorLayout> sources;
    std::map<std::string, const TensorSpec*> by_name;
    for (const TensorSpec& spec : specs) {
      sources.push_back({spec.name, DType::F32, spec.shape});
      by_name[spec.name] = &spec;
    }
    const QuantizationPlan plan = plan_quantization(kind, sources, target, name, path);
    std::vector<GgufTensorSpec> outputs;
    for (const PlannedTensor& tensor : plan.tensors) outputs.push_back(tensor.out);
    write_gguf_streaming(path, plan.metadata, outputs, [&](size_t i, unsigned char* out, size_t) {
      const TensorView view = make_tensor(*by_name.at(plan.tensors[i].source), seed, component);
      encode_quantized(static_cast<const float*>(view.data), plan.tensors[i].out, out);
    });
    return report(path, specs);
  }

  const std::string& root() const { return root_; }

 private:
  int64_t report(const std::string& path, const std::vector<TensorSpec>& specs) const {
    int64_t parameters = 0;
    for (const TensorSpec& spec : specs) parameters += spec.numel();
    log_ << "wrote " << path << " (" << specs.size() << " tensors, " << parameters
         << " parameters, " << human_size(fs::file_size(path)) << ")\n";
    return parameters;
  }

  std::string prepare(const std::string& relative) const {
    const fs::path path = fs::path(root_) / relative;
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    if (error) {
      throw std::runtime_error(path.parent_path().string() + ": cannot create: " + error.message());
    }
    return path.string();
  }

  std::string root_;
  std::ostream& log_;
};

void check_target(const DemoModelOptions& options) {
  std::error_code error;
  const fs::path dir(options.directory);
  if (!fs::exists(dir, error)) return;
  if (!fs::is_directory(dir, error)) {
    throw std::runtime_error(options.directory + ": exists and is not a directory");
  }
  if (!options.force && !fs::is_empty(dir, error)) {
    throw std::runtime_error(options.directory +
                             ": folder is not empty; pass --force to write into it anyway");
  }
}

std::string ids_text(const std::vector<int32_t>& ids, int32_t stop_after) {
  std::string text;
  for (const int32_t id : ids) {
    text += (text.empty() ? "" : " ") + std::to_string(id);
    if (id == stop_after) break;
  }
  return text;
}

// "Q8_0", "Q4_K": the spelling community file names use.
std::string gguf_type_label(DType type) { return dtype_name(type); }

std::string transformer_gguf_name(const DemoModelSpec& spec, DType type) {
  return "flux1-" + spec.preset + "-demo-" + gguf_type_label(type) + ".gguf";
}

std::string t5_gguf_name(DType type) { return "t5-encoder-demo-" + gguf_type_label(type) + ".gguf"; }

std::string gguf_readme_part(const DemoModelSpec& spec, DType type) {
  return "The transformer and the T5 encoder are GGUF files quantized to " +
         gguf_type_label(type) + " (" + transformer_gguf_name(spec, type) + ", " +
         t5_gguf_name(type) +
         "), as FLUX.1 is published for ComfyUI-GGUF and stable-diffusion.cpp; the folder "
         "supplies the configs, tokenizers, CLIP and the VAE. Serve it with\n\n"
         "    { type: flux, config: { model: <this folder>/" +
         transformer_gguf_name(spec, type) + ", base: <this folder>,\n"
         "                            text_encoder_2_file: <this folder>/" +
         t5_gguf_name(type) + " } }\n\n";
}

std::string readme(const DemoModelSpec& spec, const DemoModelOptions& options,
                   int64_t parameters) {
  const std::string size = std::to_string(spec.suggested_size);
  const std::optional<DType> quantize = quantization_target(options.quantize);
  const std::string serve =
      quantize ? gguf_readme_part(spec, *quantize)
               : "Serve it with a pipeline stage such as\n\n"
                 "    { type: flux, config: { model: <this folder>, default_width: " +
                     size + ", default_height: " + size + " } }\n\n";
  return "# fluxserve demo model (preset `" + spec.preset + "`, seed " +
         std::to_string(options.seed) + ")\n\n"
         "A FLUX.1-schnell-shaped checkpoint in the diffusers folder layout with **random "
         "weights** (" +
         std::to_string(parameters) +
         " parameters), written by `fluxserve make-demo-model`. It runs the real pipeline "
         "(tokenizers, CLIP, T5, the flow transformer, the VAE) but its images are noise: "
         "nothing here was trained except the two tokenizers, which were learned from a few "
         "paragraphs of English that ship with fluxserve.\n\n" +
         serve +
         "Like FLUX.1-schnell it has no guidance embedding (4 steps by default, guidance is "
         "ignored); image sizes must be multiples of 16 (suggested " + size + "x" + size + ").\n";
}

// The four networks' configs and weights; the transformer and T5 as GGUF when `quantize` is
// set. Returns the number of parameters written.
int64_t write_networks(const FolderWriter& out, const DemoModelSpec& spec,
                       const DemoModelOptions& options, std::optional<DType> quantize) {
  const DType dtype = options.dtype == "bfloat16" ? DType::BF16 : DType::F32;
  const uint64_t seed = options.seed;
  int64_t parameters = 0;
  out.text("text_encoder/config.json", clip_text_config_json(spec.clip));
  parameters += out.weights("text_encoder/model.safetensors", "text_encoder",
                            clip_text_tensors(spec.clip), seed, dtype);
  out.text("text_encoder_2/config.json", t5_config_json(spec.t5));
  if (quantize) {
    parameters += out.quantized_weights(t5_gguf_name(*quantize), "text_encoder_2",
                                        CheckpointKind::kT5Encoder, t5_encoder_tensors(spec.t5),
                                        seed, *quantize, "fluxserve demo T5 encoder");
  } else {
    parameters += out.weights("text_encoder_2/model.safetensors", "text_encoder_2",
                              t5_encoder_tensors(spec.t5), seed, dtype);
  }
  out.text("transformer/config.json", transformer_config_json(spec.transformer));
  if (quantize) {
    parameters += out.quantized_weights(
        transformer_gguf_name(spec, *quantize), "transformer", CheckpointKind::kFluxTransformer,
        bfl_transformer_tensors(spec.transformer), seed, *quantize,
        "fluxserve demo " + spec.preset);
  } else {
    parameters += out.weights("transformer/diffusion_pytorch_model.safetensors", "transformer",
                              transformer_tensors(spec.transformer), seed, dtype);
  }
  out.text("vae/config.json", vae_config_json(spec.vae));
  parameters += out.weights("vae/diffusion_pytorch_model.safetensors", "vae",
                            vae_tensors(spec.vae), seed, dtype);
  return parameters;
}

}  // namespace

void write_demo_model(const DemoModelOptions& options, std::ostream& log) {
  const auto started = std::chrono::steady_clock::now();
  check_target(options);
  const FolderWriter out(options.directory, log);

  const std::vector<std::string>& corpus = demo_corpus();
  const BpeVocabulary bpe = learn_clip_bpe(corpus, kMaxMerges);
  const std::string spiece = train_t5_sentencepiece(corpus, kSentencePieceVocab);
  sentencepiece::SentencePieceProcessor processor;
  if (!processor.LoadFromSerializedProto(spiece).ok()) {
    throw std::runtime_error("the trained SentencePiece model does not load");
  }
  const int64_t pieces = processor.GetPieceSize();
  const int64_t clip_vocab = static_cast<int64_t>(bpe.tokens.size());
  const int64_t t5_vocab =
      (pieces + kT5ExtraIds + kT5VocabRounding - 1) / kT5VocabRounding * kT5VocabRounding;
  std::optional<DemoModelSpec> spec = demo_model_preset(options.preset, clip_vocab, t5_vocab);
  if (!spec) {
    throw std::runtime_error("unknown preset \"" + options.preset + "\" (tiny, wide, schnell)");
  }
  if (options.full_text_encoders) use_full_text_encoders(&*spec);
  if (options.dtype != "float32" && options.dtype != "bfloat16") {
    throw std::runtime_error("unknown dtype \"" + options.dtype + "\" (float32, bfloat16)");
  }
  const std::optional<DType> quantize = quantization_target(options.quantize);
  if (!quantize && options.quantize != "none") {
    throw std::runtime_error("unknown quantize type \"" + options.quantize +
                             "\" (none, q8_0, q4_k, q5_k, q6_k)");
  }

  out.text("model_index.json", model_index_json());
  out.text("scheduler/scheduler_config.json", scheduler_config_json());
  out.text("tokenizer/vocab.json", vocab_json(bpe));
  out.text("tokenizer/merges.txt", merges_txt(bpe));
  out.text("tokenizer/tokenizer_config.json",
           clip_tokenizer_config_json(clip_vocab - 2, clip_vocab - 1));
  out.text("tokenizer/special_tokens_map.json", clip_special_tokens_map_json());
  out.text("tokenizer_2/spiece.model", spiece);
  out.text("tokenizer_2/tokenizer_config.json", t5_tokenizer_config_json(pieces));
  out.text("tokenizer_2/special_tokens_map.json", t5_special_tokens_map_json());
  log << "tokenizers: CLIP BPE " << clip_vocab << " ids (" << bpe.merges.size()
      << " merges), SentencePiece " << pieces << " pieces + " << kT5ExtraIds << " extra ids\n";

  const int64_t parameters = write_networks(out, *spec, options, quantize);
  out.text("README.md", readme(*spec, options, parameters));

  // Read the tokenizers back the way the pipeline will, so a broken file fails here.
  const ClipTokenizer clip = ClipTokenizer::load(options.directory + "/tokenizer");
  const T5Tokenizer t5 = T5Tokenizer::load(options.directory + "/tokenizer_2");
  log << "check: \"" << kSamplePrompt << "\" -> CLIP ["
      << ids_text(clip.encode(kSamplePrompt), clip.eos_id()) << "], T5 ["
      << ids_text(t5.encode(kSamplePrompt, 64), t5.eos_id()) << "]\n";

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char summary[160];
  std::snprintf(summary, sizeof(summary),
                "demo model (preset %s, %lld parameters) written in %.1f s", spec->preset.c_str(),
                static_cast<long long>(parameters), seconds);
  log << summary << " to " << options.directory
      << "\nits weights are random: the images it makes are noise\n";
}

}  // namespace flx::flux::demo
