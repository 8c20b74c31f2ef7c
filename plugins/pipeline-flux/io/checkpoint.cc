#include "io/checkpoint.h"

#include <dirent.h>
#include <sys/stat.h>

#include <regex>
#include <vector>

#include "io/bfl_transformer_mapping.h"
#include "io/bfl_vae_mapping.h"
#include "io/files.h"
#include "io/name_affixes.h"
#include "io/t5_gguf_mapping.h"

namespace flx::flux {
namespace {

bool has_weights(const std::string& dir, const std::string& base) {
  const std::string single = dir + "/" + base + ".safetensors";
  return is_regular_file(single) || is_regular_file(single + ".index.json");
}

// Everything a FLUX diffusers folder must hold that is not already supplied by single files.
void check_diffusers_folder(const std::string& root, bool needs_transformer_weights,
                            bool needs_vae_weights, bool needs_text_encoder_2_weights) {
  if (!is_directory(root)) throw LoadError(root + ": not a folder");
  std::vector<std::string> missing;
  for (const char* file :
       {"model_index.json", "transformer/config.json", "vae/config.json",
        "text_encoder/config.json", "text_encoder_2/config.json", "scheduler/scheduler_config.json",
        "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer_2/spiece.model"}) {
    if (!is_regular_file(root + "/" + file)) missing.push_back(file);
  }
  struct Weights {
    const char* component;
    const char* base;
    bool needed;
  };
  for (const Weights& weights :
       {Weights{"transformer", "diffusion_pytorch_model", needs_transformer_weights},
        Weights{"vae", "diffusion_pytorch_model", needs_vae_weights},
        Weights{"text_encoder", "model", true}, Weights{"text_encoder_2", "model", needs_text_encoder_2_weights}}) {
    if (weights.needed && !has_weights(root + "/" + weights.component, weights.base)) {
      missing.push_back(std::string(weights.component) + "/" + weights.base + ".safetensors");
    }
  }
  if (missing.empty()) return;
  std::string list;
  for (const std::string& file : missing) list += (list.empty() ? "" : ", ") + file;
  throw LoadError(root + ": not a complete FLUX diffusers folder, missing " + list);
}

bool looks_like_repo_id(const std::string& spec) {
  static const std::regex pattern("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
  return std::regex_match(spec, pattern) && spec.find("..") == std::string::npos;
}

std::string trim(const std::string& text) {
  const char* space = " \t\r\n";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

// The snapshot folder of `repo_id` in the hub cache (see resolve_model for the rule).
std::string find_snapshot(const std::string& repo_id, const std::string& cache_dir) {
  std::string folder_name = "models--" + repo_id;
  folder_name.replace(folder_name.find('/'), 1, "--");
  const std::string repo_dir = cache_dir + "/" + folder_name;
  const std::string snapshots = repo_dir + "/snapshots";
  if (!is_directory(snapshots)) {
    throw LoadError(repo_id +
                    ": not a folder or file, and not in the Hugging Face cache (looked for " +
                    snapshots + ")");
  }
  const std::string ref = repo_dir + "/refs/main";
  if (is_regular_file(ref)) {
    const std::string revision = trim(read_text_file(ref));
    const std::string snapshot = snapshots + "/" + revision;
    if (revision.empty() || revision.find('/') != std::string::npos || !is_directory(snapshot)) {
      throw LoadError(ref + ": names revision \"" + revision + "\", but " + snapshot +
                      " is not a folder");
    }
    return snapshot;
  }
  DIR* dir = opendir(snapshots.c_str());
  if (dir == nullptr) throw LoadError(snapshots + ": cannot list");
  std::string newest;
  struct timespec newest_time {};
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat info;
    const std::string path = snapshots + "/" + name;
    if (stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) continue;
    const struct timespec& time = info.st_mtim;
    const bool newer =
        newest.empty() || time.tv_sec > newest_time.tv_sec ||
        (time.tv_sec == newest_time.tv_sec && time.tv_nsec > newest_time.tv_nsec) ||
        (time.tv_sec == newest_time.tv_sec && time.tv_nsec == newest_time.tv_nsec && path > newest);
    if (newer) {
      newest = path;
      newest_time = time;
    }
  }
  closedir(dir);
  if (newest.empty()) throw LoadError(snapshots + ": no snapshot of " + repo_id + " in the cache");
  return newest;
}

// A folder, or a repo id in the cache; single files are not allowed here.
std::string resolve_folder(const std::string& spec, const std::string& hf_cache_dir) {
  if (is_directory(spec)) return spec;
  if (looks_like_repo_id(spec)) return find_snapshot(spec, hf_cache_dir);
  throw LoadError(spec + ": not a folder, and not a Hugging Face repo id (org/name)");
}

bool is_diffusers_transformer(const TensorStore& store) {
  return store.contains("x_embedder.weight") && store.contains("proj_out.weight");
}

}  // namespace

std::string ModelPaths::component_dir(const std::string& component) const {
  return root + "/" + component;
}

std::string hf_hub_cache_dir(const std::optional<std::string>& hf_hub_cache,
                             const std::optional<std::string>& hf_home,
                             const std::optional<std::string>& home) {
  if (hf_hub_cache && !hf_hub_cache->empty()) return *hf_hub_cache;
  if (hf_home && !hf_home->empty()) return *hf_home + "/hub";
  return (home && !home->empty() ? *home : std::string(".")) + "/.cache/huggingface/hub";
}

ModelPaths resolve_model(const std::string& spec, const std::string& hf_cache_dir,
                         const std::string& base, const std::string& text_encoder_2_file) {
  if (spec.empty()) throw LoadError("model spec is empty: give a folder, repo id or file");
  ModelPaths paths;
  if (is_regular_file(spec)) {
    if (!ends_with(spec, ".safetensors") && !is_gguf_path(spec)) {
      throw LoadError(spec + ": a single-file checkpoint must be a .safetensors or .gguf file");
    }
    const TensorStore weights = TensorStore::from_file(spec);
    if (!is_bfl_transformer(weights) && !is_diffusers_transformer(weights)) {
      throw LoadError(spec + ": not a FLUX transformer checkpoint (neither double_blocks.* " +
                      "tensors nor diffusers x_embedder/proj_out)");
    }
    if (base.empty()) {
      throw LoadError(spec + ": a single-file checkpoint holds only the transformer; also give " +
                      "a diffusers folder or repo id (base) for configs, tokenizers, text " +
                      "encoders and VAE");
    }
    paths.transformer_file = spec;
    const std::string autoencoder = parent_directory(spec) + "/ae.safetensors";
    if (is_regular_file(autoencoder)) paths.vae_file = autoencoder;
    paths.root = resolve_folder(base, hf_cache_dir);
  } else {
    paths.root = resolve_folder(spec, hf_cache_dir);
  }
  if (!text_encoder_2_file.empty()) use_text_encoder_2_file(text_encoder_2_file, &paths);
  check_diffusers_folder(paths.root, paths.transformer_file.empty(), paths.vae_file.empty(),
                         paths.text_encoder_2_file.empty());
  return paths;
}

TensorStore open_transformer_weights(const ModelPaths& paths) {
  if (paths.transformer_file.empty()) {
    return TensorStore::open_component(paths.component_dir("transformer"),
                                       "diffusion_pytorch_model");
  }
  TensorStore weights = TensorStore::from_file(paths.transformer_file);
  return is_bfl_transformer(weights) ? map_bfl_transformer(weights) : weights;
}

TensorStore open_vae_weights(const ModelPaths& paths) {
  if (paths.vae_file.empty()) {
    return TensorStore::open_component(paths.component_dir("vae"), "diffusion_pytorch_model");
  }
  TensorStore weights = TensorStore::from_file(paths.vae_file);
  return is_bfl_vae(weights) ? map_bfl_vae(weights) : weights;
}

TensorStore open_text_encoder_weights(const ModelPaths& paths) {
  return TensorStore::open_component(paths.component_dir("text_encoder"), "model");
}

TensorStore open_text_encoder_2_weights(const ModelPaths& paths) {
  if (paths.text_encoder_2_file.empty()) {
    return TensorStore::open_component(paths.component_dir("text_encoder_2"), "model");
  }
  TensorStore weights = TensorStore::from_file(paths.text_encoder_2_file);
  return is_llama_cpp_t5(weights) ? map_llama_cpp_t5(weights) : weights;
}

void use_text_encoder_2_file(const std::string& path, ModelPaths* paths) {
  if (!is_regular_file(path)) throw LoadError(path + ": text_encoder_2 file not found");
  if (!ends_with(path, ".safetensors") && !is_gguf_path(path)) {
    throw LoadError(path + ": a T5 encoder file must be a .safetensors or .gguf file");
  }
  const TensorStore weights = TensorStore::from_file(path);
  const bool transformers_names =
      weights.contains("shared.weight") || weights.contains("encoder.embed_tokens.weight");
  if (!transformers_names && !is_llama_cpp_t5(weights)) {
    throw LoadError(path + ": not a T5 encoder (neither shared.weight / encoder.* tensors nor " +
                    "llama.cpp's token_embd / enc.blk.* tensors)");
  }
  paths->text_encoder_2_file = path;
}

}  // namespace flx::flux
