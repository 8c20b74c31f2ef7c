#include "io/fp8_scales.h"

#include <cmath>
#include <cstring>
#include <map>
#include <optional>

#include "io/name_affixes.h"

namespace flx::flux {
namespace {

// Legacy ComfyUI names, and the names newer ComfyUI rewrites them to on load.
constexpr const char* kScaleSuffixes[] = {".scale_weight", ".weight_scale"};
constexpr const char* kIgnoredSuffixes[] = {".scale_input", ".input_scale", ".comfy_quant"};
constexpr char kMarker[] = "scaled_fp8";

// The float32 value of a one-element F32 tensor (shape [] or [1]).
float read_scale(const TensorStore& store, const std::string& name) {
  const TensorView& view = store.get(name);
  const std::string where = store.source_of(name) + ": tensor " + name;
  if (view.dtype != DType::F32 || view.numel() != 1) {
    throw LoadError(where + ": a weight scale must be one F32 value, found " +
                    dtype_name(view.dtype) + " " + shape_string(view.shape));
  }
  float scale;
  std::memcpy(&scale, view.data, sizeof scale);
  if (!std::isfinite(scale) || scale <= 0) {
    throw LoadError(where + ": weight scale " + std::to_string(scale) +
                    " is not a finite positive number");
  }
  return scale;
}

// For a scale tensor's name, the weight it scales ("a.scale_weight" -> "a.weight").
std::optional<std::string> scaled_weight_of(const std::string& name) {
  for (const char* suffix : kScaleSuffixes) {
    if (ends_with(name, suffix)) return name.substr(0, name.size() - std::strlen(suffix)) + ".weight";
  }
  return std::nullopt;
}

bool is_dropped(const std::string& name) {
  if (name == kMarker || ends_with(name, std::string(".") + kMarker)) return true;
  for (const char* suffix : kIgnoredSuffixes) {
    if (ends_with(name, suffix)) return true;
  }
  return scaled_weight_of(name).has_value();
}

}  // namespace

TensorStore fold_fp8_scales(const TensorStore& store) {
  std::map<std::string, std::pair<std::string, float>> scales;  // weight -> (scale tensor, scale)
  for (const std::string& name : store.names()) {
    if (std::optional<std::string> weight = scaled_weight_of(name)) {
      scales[*weight] = {name, read_scale(store, name)};
    }
  }
  TensorStore folded(store.description());
  for (const std::string& name : store.names()) {
    if (is_dropped(name)) continue;
    TensorView view = store.get(name);
    if (auto it = scales.find(name); it != scales.end()) {
      if (view.dtype != DType::F8_E4M3 && view.dtype != DType::F8_E5M2) {
        throw LoadError(store.source_of(name) + ": tensor " + name + " has a scale (" +
                        it->second.first + ") but is " + dtype_name(view.dtype) + ", not fp8");
      }
      view.scale = it->second.second;
      scales.erase(it);
    }
    folded.add(std::move(view), store.source_of(name));
  }
  if (!scales.empty()) {
    const auto& [weight, scale] = *scales.begin();
    throw LoadError(store.description() + ": tensor " + scale.first + " scales " + weight +
                    ", which the file does not hold");
  }
  return folded;
}

}  // namespace flx::flux
