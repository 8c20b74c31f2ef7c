#include "model/lora_weights.h"

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "io/tensor.h"
#include "model/weights.h"

namespace flx::flux {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

[[noreturn]] void fail(const SafetensorsFile& file, const std::string& key,
                       const std::string& why) {
  throw LoadError(file.path() + ": \"" + key + "\" " + why);
}

at::Tensor matrix(const SafetensorsFile& file, const std::string& key) {
  const TensorView& view = file.get(key);
  if (view.shape.size() != 2) fail(file, key, "must be a matrix (2 dimensions)");
  if (is_quantized(view.dtype)) return dequantized_tensor(view);
  return tensor_from_view(view);
}

std::optional<double> scalar(const SafetensorsFile& file, const std::string& key) {
  const TensorView* view = file.find(key);
  if (view == nullptr) return std::nullopt;
  if (view->numel() != 1) fail(file, key, "must hold one number");
  return tensor_from_view(*view).to(at::kDouble).item<double>();
}

void check_pair(const SafetensorsFile& file, const LoraPair& pair) {
  if (pair.down.size(0) != pair.up.size(1)) {
    fail(file, pair.key,
         "has rank " + std::to_string(pair.down.size(0)) + " in its down/A matrix but " +
             std::to_string(pair.up.size(1)) + " in its up/B matrix");
  }
}

bool is_text_encoder_key(const std::string& key) {
  return starts_with(key, "text_encoder") || starts_with(key, "lora_te_") ||
         starts_with(key, "lora_te1_") || key.find("dora_scale") != std::string::npos;
}

// The down/A and up/B matrices of `stem` (`down_key` and its partner `up_key`), checked.
LoraPair read_pair(const SafetensorsFile& file, const std::string& stem,
                   const std::string& down_key, const std::string& up_key) {
  if (file.find(up_key) == nullptr) fail(file, down_key, "has no partner \"" + up_key + "\"");
  LoraPair pair;
  pair.key = stem;
  pair.down = matrix(file, down_key);
  pair.up = matrix(file, up_key);
  check_pair(file, pair);
  return pair;
}

// The walk both layouts share: text-encoder keys go to `ignored`; each key ending in
// `down_suffix` starts a pair that `read` fills from its stem, listing the keys it used;
// a key no pair used is an error (`unknown` says what was expected).
using PairReader = std::function<LoraPair(const std::string& stem, std::vector<std::string>* used)>;

LoraWeights read_pairs(const SafetensorsFile& file, const std::string& format,
                       const std::string& down_suffix, const PairReader& read,
                       const std::string& unknown) {
  LoraWeights lora;
  lora.format = format;
  std::set<std::string> used;
  for (const std::string& key : file.names()) {
    if (is_text_encoder_key(key)) {
      lora.ignored.push_back(key);
      used.insert(key);
      continue;
    }
    if (!ends_with(key, down_suffix)) continue;
    std::vector<std::string> keys;
    lora.pairs.push_back(read(key.substr(0, key.size() - down_suffix.size()), &keys));
    used.insert(keys.begin(), keys.end());
  }
  for (const std::string& key : file.names()) {
    if (used.count(key) == 0) fail(file, key, unknown);
  }
  return lora;
}

// ---- diffusers / PEFT ----------------------------------------------------------------

LoraWeights read_peft(const SafetensorsFile& file) {
  const auto read = [&](const std::string& stem, std::vector<std::string>* used) {
    const std::string a_key = stem + ".lora_A.weight", b_key = stem + ".lora_B.weight";
    LoraPair pair = read_pair(file, stem, a_key, b_key);
    pair.modules = {starts_with(stem, "transformer.") ? stem.substr(12) : stem};
    // diffusers: lora_alpha from "<module>.alpha" when present, PEFT's scaling alpha / rank.
    if (auto alpha = scalar(file, stem + ".alpha")) {
      pair.scaling = *alpha / static_cast<double>(pair.up.size(1));
    }
    *used = {a_key, b_key, stem + ".alpha"};
    return pair;
  };
  return read_pairs(file, "peft", ".lora_A.weight", read,
                    "is not a LoRA key this server knows (expected <module>.lora_A.weight, "
                    ".lora_B.weight and .alpha, or kohya's lora_unet_* keys)");
}

// ---- kohya ---------------------------------------------------------------------------

// The diffusers layers a kohya layer name stands for, under "<block>.<i>.".
const std::map<std::string, std::vector<std::string>>& double_block_parts() {
  static const std::map<std::string, std::vector<std::string>> parts = {
      {"img_attn_proj", {"attn.to_out.0"}},
      {"img_attn_qkv", {"attn.to_q", "attn.to_k", "attn.to_v"}},
      {"img_mlp_0", {"ff.net.0.proj"}},
      {"img_mlp_2", {"ff.net.2"}},
      {"img_mod_lin", {"norm1.linear"}},
      {"txt_attn_proj", {"attn.to_add_out"}},
      {"txt_attn_qkv", {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"}},
      {"txt_mlp_0", {"ff_context.net.0.proj"}},
      {"txt_mlp_2", {"ff_context.net.2"}},
      {"txt_mod_lin", {"norm1_context.linear"}},
  };
  return parts;
}

const std::map<std::string, std::vector<std::string>>& single_block_parts() {
  static const std::map<std::string, std::vector<std::string>> parts = {
      {"linear1", {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"}},
      {"linear2", {"proj_out"}},
      {"modulation_lin", {"norm.linear"}},
  };
  return parts;
}

// The diffusers modules of kohya layer `stem`, or nullopt when it names none.
std::optional<std::vector<std::string>> kohya_modules(const std::string& stem) {
  static const std::regex pattern("lora_unet_(double|single)_blocks_([0-9]+)_([a-z0-9_]+)");
  std::smatch match;
  if (!std::regex_match(stem, match, pattern)) return std::nullopt;
  const bool is_double = match[1] == "double";
  const auto& parts = is_double ? double_block_parts() : single_block_parts();
  const auto it = parts.find(match[3]);
  if (it == parts.end()) return std::nullopt;
  const std::string block =
      std::string(is_double ? "transformer_blocks." : "single_transformer_blocks.") +
      match[2].str() + ".";
  std::vector<std::string> modules;
  for (const std::string& part : it->second) modules.push_back(block + part);
  return modules;
}

// diffusers' split of alpha / rank between the two matrices: scale_down takes it all unless
// it is small, then doubles while scale_up halves until they meet.
void split_scale(double scale, double* scale_down, double* scale_up) {
  *scale_down = scale;
  *scale_up = 1.0;
  while (*scale_down * 2 < *scale_up) {
    *scale_down *= 2;
    *scale_up /= 2;
  }
}

// Folds alpha / rank into the pair as diffusers' kohya conversion does. For a fused layer
// (several modules) diffusers keeps alpha a tensor, so the scale is computed and applied in
// alpha's dtype; for a plain layer it takes alpha.item() and multiplies by a Python float.
void fold_alpha(const SafetensorsFile& file, const std::string& alpha_key, LoraPair* pair) {
  const TensorView* alpha_view = file.find(alpha_key);
  const int64_t rank = pair->down.size(0);
  if (alpha_view == nullptr) return;  // no alpha: scale 1 (diffusers would refuse the file)
  if (alpha_view->numel() != 1) fail(file, alpha_key, "must hold one number");
  const at::Tensor alpha = tensor_from_view(*alpha_view).reshape({});
  double scale_down = 0, scale_up = 0;
  if (pair->modules.size() == 1) {
    split_scale(alpha.to(at::kDouble).item<double>() / static_cast<double>(rank), &scale_down,
                &scale_up);
    pair->down = pair->down * scale_down;
  } else {
    const at::Tensor scale = at::div(alpha, rank);  // in alpha's (floating) dtype
    split_scale(scale.to(at::kDouble).item<double>(), &scale_down, &scale_up);
    pair->down = pair->down * at::scalar_tensor(scale_down, scale.options());
  }
  pair->up = pair->up * scale_up;
}

LoraWeights read_kohya(const SafetensorsFile& file) {
  const auto read = [&](const std::string& stem, std::vector<std::string>* used) {
    const std::string down_key = stem + ".lora_down.weight";
    auto modules = kohya_modules(stem);
    if (!modules) fail(file, down_key, "names no FLUX transformer layer this server knows");
    LoraPair pair = read_pair(file, stem, down_key, stem + ".lora_up.weight");
    pair.modules = std::move(*modules);
    fold_alpha(file, stem + ".alpha", &pair);
    *used = {down_key, stem + ".lora_up.weight", stem + ".alpha"};
    return pair;
  };
  return read_pairs(file, "kohya", ".lora_down.weight", read,
                    "is not a kohya LoRA key this server knows");
}

}  // namespace

LoraWeights read_lora(const SafetensorsFile& file) {
  bool kohya = false;
  for (const std::string& key : file.names()) {
    if (key.find(".lora_down.weight") != std::string::npos) kohya = true;
  }
  LoraWeights lora = kohya ? read_kohya(file) : read_peft(file);
  if (lora.pairs.empty()) {
    throw LoadError(file.path() + ": no LoRA matrices for the transformer (" +
                    std::to_string(lora.ignored.size()) + " keys for other components)");
  }
  return lora;
}

}  // namespace flx::flux
