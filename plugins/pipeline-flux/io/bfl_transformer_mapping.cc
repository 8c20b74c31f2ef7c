#include "io/bfl_transformer_mapping.h"

#include <cstring>

#include "io/key_path.h"

namespace flx::flux {
namespace {

const std::string kComfyPrefix = "model.diffusion_model.";

enum class Split {
  kNone,        // one tensor, renamed
  kThirds,      // fused q, k, v rows
  kQkvAndMlp,   // single-block linear1: q, k, v (hidden rows each), then the MLP rows
  kSwapHalves,  // (shift, scale) rows -> (scale, shift)
};

struct Rule {
  const char* bfl_module;
  Split split;
  std::vector<const char*> diffusers_modules;
};

const std::vector<Rule>& top_level_rules() {
  static const std::vector<Rule> rules = {
      {"img_in", Split::kNone, {"x_embedder"}},
      {"txt_in", Split::kNone, {"context_embedder"}},
      {"time_in.in_layer", Split::kNone, {"time_text_embed.timestep_embedder.linear_1"}},
      {"time_in.out_layer", Split::kNone, {"time_text_embed.timestep_embedder.linear_2"}},
      {"vector_in.in_layer", Split::kNone, {"time_text_embed.text_embedder.linear_1"}},
      {"vector_in.out_layer", Split::kNone, {"time_text_embed.text_embedder.linear_2"}},
      {"guidance_in.in_layer", Split::kNone, {"time_text_embed.guidance_embedder.linear_1"}},
      {"guidance_in.out_layer", Split::kNone, {"time_text_embed.guidance_embedder.linear_2"}},
      {"final_layer.linear", Split::kNone, {"proj_out"}},
      {"final_layer.adaLN_modulation.1", Split::kSwapHalves, {"norm_out.linear"}},
  };
  return rules;
}

const std::vector<Rule>& double_block_rules() {
  static const std::vector<Rule> rules = {
      {"img_mod.lin", Split::kNone, {"norm1.linear"}},
      {"txt_mod.lin", Split::kNone, {"norm1_context.linear"}},
      {"img_attn.qkv", Split::kThirds, {"attn.to_q", "attn.to_k", "attn.to_v"}},
      {"txt_attn.qkv", Split::kThirds, {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"}},
      {"img_attn.norm.query_norm", Split::kNone, {"attn.norm_q"}},
      {"img_attn.norm.key_norm", Split::kNone, {"attn.norm_k"}},
      {"txt_attn.norm.query_norm", Split::kNone, {"attn.norm_added_q"}},
      {"txt_attn.norm.key_norm", Split::kNone, {"attn.norm_added_k"}},
      {"img_attn.proj", Split::kNone, {"attn.to_out.0"}},
      {"txt_attn.proj", Split::kNone, {"attn.to_add_out"}},
      {"img_mlp.0", Split::kNone, {"ff.net.0.proj"}},
      {"img_mlp.2", Split::kNone, {"ff.net.2"}},
      {"txt_mlp.0", Split::kNone, {"ff_context.net.0.proj"}},
      {"txt_mlp.2", Split::kNone, {"ff_context.net.2"}},
  };
  return rules;
}

const std::vector<Rule>& single_block_rules() {
  static const std::vector<Rule> rules = {
      {"modulation.lin", Split::kNone, {"norm.linear"}},
      {"linear1", Split::kQkvAndMlp, {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"}},
      {"norm.query_norm", Split::kNone, {"attn.norm_q"}},
      {"norm.key_norm", Split::kNone, {"attn.norm_k"}},
      {"linear2", Split::kNone, {"proj_out"}},
  };
  return rules;
}

std::string strip_comfy_prefix(const std::string& key) {
  return key.compare(0, kComfyPrefix.size(), kComfyPrefix) == 0 ? key.substr(kComfyPrefix.size())
                                                                : key;
}

const Rule* find_rule(const std::vector<Rule>& rules, const std::string& module) {
  for (const Rule& rule : rules) {
    if (module == rule.bfl_module) return &rule;
  }
  return nullptr;
}

// Everything the mapping needs to know about one source key.
struct Match {
  const Rule* rule = nullptr;
  std::string diffusers_prefix;  // "" or "transformer_blocks.3." / "single_transformer_blocks.3."
  std::string param;             // "weight" or "bias"; norm scales become "weight"
};

std::optional<Match> match_key(const std::string& key) {
  std::vector<std::string> parts = split_key(strip_comfy_prefix(key));
  if (parts.size() < 2) return std::nullopt;
  Match match;
  const std::string& last = parts.back();
  if (last != "weight" && last != "bias" && last != "scale") return std::nullopt;
  match.param = last == "scale" ? "weight" : last;
  size_t module_start = 0;
  const std::vector<Rule>* rules = &top_level_rules();
  if (parts[0] == "double_blocks" || parts[0] == "single_blocks") {
    std::optional<int> index = parts.size() > 3 ? parse_block_index(parts[1]) : std::nullopt;
    if (!index) return std::nullopt;
    const bool is_double = parts[0] == "double_blocks";
    rules = is_double ? &double_block_rules() : &single_block_rules();
    match.diffusers_prefix =
        std::string(is_double ? "transformer_blocks." : "single_transformer_blocks.") +
        std::to_string(*index) + ".";
    module_start = 2;
  }
  match.rule = find_rule(*rules, join_key(parts, module_start, parts.size() - 1));
  const bool scale_param = last == "scale";
  const bool norm_module = match.rule != nullptr &&
                           std::string(match.rule->bfl_module).find("_norm") != std::string::npos;
  if (match.rule == nullptr || scale_param != norm_module) return std::nullopt;
  return match;
}

int64_t hidden_size(const TensorStore& bfl) {
  for (const std::string& name : {std::string("img_in.weight"), kComfyPrefix + "img_in.weight"}) {
    if (bfl.contains(name)) {
      const TensorView& img_in = bfl.get(name);
      if (img_in.shape.size() == 2) return img_in.shape[0];
      throw LoadError(bfl.description() + ": tensor " + name + " has shape " +
                      shape_string(img_in.shape) + ", expected [hidden, in_channels]");
    }
  }
  throw LoadError(bfl.description() + ": tensor img_in.weight not found (needed to split " +
                  "single_blocks.N.linear1 into attention and MLP rows)");
}

TensorView swap_halves(const TensorView& view, std::string name) {
  const size_t half = view.nbytes / 2;
  std::vector<unsigned char> swapped(view.nbytes);
  const auto* bytes = static_cast<const unsigned char*>(view.data);
  std::memcpy(swapped.data(), bytes + half, half);
  std::memcpy(swapped.data() + half, bytes, half);
  TensorView owned =
      make_owned_tensor(std::move(name), view.dtype, view.shape, swapped.data(), swapped.size());
  owned.scale = view.scale;
  return owned;
}

}  // namespace

bool is_bfl_transformer(const TensorStore& store) {
  for (const std::string& name : store.names()) {
    if (strip_comfy_prefix(name).compare(0, 14, "double_blocks.") == 0) return true;
  }
  return false;
}

TensorStore map_bfl_transformer(const TensorStore& bfl) {
  TensorStore mapped(bfl.description() + " (black-forest-labs layout, read as diffusers names)");
  std::optional<int64_t> hidden;
  for (const std::string& key : bfl.names()) {
    std::optional<Match> match = match_key(key);
    if (!match) {
      throw LoadError(bfl.description() + ": tensor " + key +
                      " is not part of the black-forest-labs FLUX transformer layout");
    }
    const TensorView& source = bfl.get(key);
    const std::string origin = bfl.description() + " (from " + key + ")";
    auto target = [&](size_t i) {
      return match->diffusers_prefix + match->rule->diffusers_modules[i] + "." + match->param;
    };
    const int64_t rows = source.shape.empty() ? 0 : source.shape[0];
    auto put = [&](TensorView view, const std::string& how) {
      if (mapped.contains(view.name)) {
        throw LoadError(bfl.description() + ": tensor " + key + " maps to " + view.name +
                        ", which another tensor already provides");
      }
      mapped.add(std::move(view), how);
    };
    auto fail = [&](const std::string& expectation) {
      throw LoadError(bfl.description() + ": tensor " + key + " has shape " +
                      shape_string(source.shape) + ", expected " + expectation);
    };
    switch (match->rule->split) {
      case Split::kNone: {
        TensorView renamed = source;
        renamed.name = target(0);
        put(std::move(renamed), origin);
        break;
      }
      case Split::kThirds: {
        if (source.shape.empty() || rows % 3 != 0) fail("rows divisible by 3 (fused q, k, v)");
        for (size_t i = 0; i < 3; ++i) {
          put(slice_rows(source, rows / 3 * static_cast<int64_t>(i), rows / 3, target(i)), origin);
        }
        break;
      }
      case Split::kQkvAndMlp: {
        if (!hidden) hidden = hidden_size(bfl);
        if (source.shape.empty() || rows <= 3 * *hidden) {
          fail("more than 3 x hidden = " + std::to_string(3 * *hidden) + " rows (q, k, v, MLP)");
        }
        for (size_t i = 0; i < 3; ++i) {
          put(slice_rows(source, *hidden * static_cast<int64_t>(i), *hidden, target(i)), origin);
        }
        put(slice_rows(source, 3 * *hidden, rows - 3 * *hidden, target(3)), origin);
        break;
      }
      case Split::kSwapHalves: {
        if (source.shape.empty() || rows % 2 != 0) fail("an even number of rows (shift, scale)");
        put(swap_halves(source, target(0)), origin + ", halves swapped");
        break;
      }
    }
  }
  return mapped;
}

}  // namespace flx::flux
