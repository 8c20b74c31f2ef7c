#include "io/bfl_vae_mapping.h"

#include <algorithm>

#include "io/key_path.h"
#include "io/name_affixes.h"

namespace flx::flux {
namespace {

// Latent-diffusion checkpoints nest the autoencoder under one of these; diffusers takes the
// last one present.
const char* const kPrefixes[] = {"first_stage_model.", "vae."};

std::string detect_prefix(const std::vector<std::string>& names) {
  std::string found;
  for (const char* prefix : kPrefixes) {
    if (std::any_of(names.begin(), names.end(),
                    [&](const std::string& name) { return starts_with(name, prefix); })) {
      found = prefix;
    }
  }
  return found;
}

bool is_param(const std::string& part) { return part == "weight" || part == "bias"; }

std::optional<std::string> resnet_member(const std::string& part) {
  if (part == "norm1" || part == "conv1" || part == "norm2" || part == "conv2") return part;
  if (part == "nin_shortcut") return std::string("conv_shortcut");
  return std::nullopt;
}

std::optional<std::string> attention_member(const std::string& part) {
  if (part == "norm") return std::string("group_norm");
  if (part == "q" || part == "k" || part == "v") return "to_" + part;
  if (part == "proj_out") return std::string("to_out.0");
  return std::nullopt;
}

struct Target {
  std::string name;
  bool attention_projection_weight = false;  // a 1x1 conv weight to view as a linear weight
};

// The diffusers name of one black-forest-labs key split into `p` (prefix removed), or nullopt
// when the key is not part of the layout. `up_levels` is the number of decoder.up.N levels.
std::optional<Target> map_key(const std::vector<std::string>& p, int up_levels) {
  const size_t n = p.size();
  if (n < 2 || !is_param(p.back())) return std::nullopt;
  const std::string& param = p.back();
  if (n == 2 && (p[0] == "quant_conv" || p[0] == "post_quant_conv")) {
    return Target{p[0] + "." + param};
  }
  const bool encoder = p[0] == "encoder";
  if (!encoder && p[0] != "decoder") return std::nullopt;
  const std::string& coder = p[0];

  if (n == 3 && (p[1] == "conv_in" || p[1] == "conv_out"))
    return Target{coder + "." + p[1] + "." + param};
  if (n == 3 && p[1] == "norm_out") return Target{coder + ".conv_norm_out." + param};

  if (p[1] == "mid" && n == 5 && (p[2] == "block_1" || p[2] == "block_2")) {
    std::optional<std::string> member = resnet_member(p[3]);
    if (!member) return std::nullopt;
    return Target{coder + ".mid_block.resnets." + (p[2] == "block_1" ? "0." : "1.") + *member +
                  "." + param};
  }
  if (p[1] == "mid" && n == 5 && p[2] == "attn_1") {
    std::optional<std::string> member = attention_member(p[3]);
    if (!member) return std::nullopt;
    return Target{coder + ".mid_block.attentions.0." + *member + "." + param,
                  p[3] != "norm" && param == "weight"};
  }

  const char* level_name = encoder ? "down" : "up";
  if (p[1] != level_name || n < 5) return std::nullopt;
  std::optional<int> level = parse_block_index(p[2]);
  if (!level) return std::nullopt;
  const int diffusers_level = encoder ? *level : up_levels - 1 - *level;
  const std::string block =
      coder + (encoder ? ".down_blocks." : ".up_blocks.") + std::to_string(diffusers_level) + ".";
  if (n == 7 && p[3] == "block") {
    std::optional<int> index = parse_block_index(p[4]);
    std::optional<std::string> member = resnet_member(p[5]);
    if (!index || !member) return std::nullopt;
    return Target{block + "resnets." + std::to_string(*index) + "." + *member + "." + param};
  }
  const char* resample = encoder ? "downsample" : "upsample";
  if (n == 6 && p[3] == resample && p[4] == "conv") {
    return Target{block + (encoder ? "downsamplers" : "upsamplers") + ".0.conv." + param};
  }
  return std::nullopt;
}

int count_up_levels(const std::vector<std::string>& keys, const std::string& prefix) {
  int levels = 0;
  for (const std::string& key : keys) {
    if (!starts_with(key, prefix)) continue;
    std::vector<std::string> parts = split_key(key.substr(prefix.size()));
    if (parts.size() > 2 && parts[0] == "decoder" && parts[1] == "up") {
      if (std::optional<int> level = parse_block_index(parts[2]))
        levels = std::max(levels, *level + 1);
    }
  }
  return levels;
}

}  // namespace

bool is_bfl_vae(const TensorStore& store) {
  const std::vector<std::string> names = store.names();
  const std::string prefix = detect_prefix(names);
  for (const std::string& name : names) {
    if (starts_with(name, prefix + "decoder.up.") ||
        starts_with(name, prefix + "decoder.mid.block_1.")) {
      return true;
    }
  }
  return false;
}

TensorStore map_bfl_vae(const TensorStore& bfl) {
  const std::vector<std::string> keys = bfl.names();
  const std::string prefix = detect_prefix(keys);
  const int up_levels = count_up_levels(keys, prefix);
  TensorStore mapped(bfl.description() +
                     " (black-forest-labs autoencoder layout, read as diffusers names)");
  for (const std::string& key : keys) {
    if (!starts_with(key, prefix)) continue;
    std::optional<Target> target = map_key(split_key(key.substr(prefix.size())), up_levels);
    if (!target) {
      throw LoadError(bfl.description() + ": tensor " + key +
                      " is not part of the black-forest-labs autoencoder layout");
    }
    if (mapped.contains(target->name)) {
      throw LoadError(bfl.description() + ": tensor " + key + " maps to " + target->name +
                      ", which another tensor already provides");
    }
    const TensorView& source = bfl.get(key);
    TensorView view = source;
    view.name = target->name;
    if (target->attention_projection_weight) {
      const std::vector<int64_t>& s = source.shape;
      const bool conv_1x1 =
          (s.size() == 4 && s[2] == 1 && s[3] == 1) || (s.size() == 3 && s[2] == 1);
      if (!(s.size() == 2 || conv_1x1) || s[0] != s[1]) {
        throw LoadError(bfl.description() + ": tensor " + key + " has shape " + shape_string(s) +
                        ", expected [C,C,1,1] (a 1x1 convolution) or [C,C]");
      }
      view = reshape(source, {s[0], s[1]}, target->name);
    }
    mapped.add(std::move(view), bfl.description() + " (from " + key + ")");
  }
  return mapped;
}

}  // namespace flx::flux
