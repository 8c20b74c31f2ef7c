#include "model/layers.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "io/tensor.h"
#include "model/weight_overlay.h"

namespace flx::flux {

Linear Linear::load(const Weights& weights, const std::string& name, int64_t in_features,
                    int64_t out_features, bool has_bias) {
  Linear linear;
  linear.name = weights.prefix() + name;
  linear.quantized = weights.get_quantized(name + ".weight", {out_features, in_features});
  if (!linear.quantized) linear.weight = weights.get(name + ".weight", {out_features, in_features});
  if (has_bias) linear.bias = weights.get(name + ".bias", {out_features});
  return linear;
}

at::Tensor Linear::operator()(const at::Tensor& x) const {
  if (const WeightOverlay* overlay = active_weight_overlay()) {
    if (const at::Tensor* replaced = overlay->find(name)) return at::linear(x, *replaced, bias);
  }
  if (quantized) return at::linear(x, quantized->materialize(), bias);
  return at::linear(x, weight, bias);
}

int64_t Linear::out_features() const { return quantized ? quantized->shape()[0] : weight.size(0); }

int64_t Linear::in_features() const { return quantized ? quantized->shape()[1] : weight.size(1); }

at::Tensor Linear::dense_weight() const { return quantized ? quantized->materialize() : weight; }

LayerNorm LayerNorm::load(const Weights& weights, const std::string& name, int64_t dim,
                          double eps) {
  LayerNorm norm = without_affine(dim, eps);
  norm.weight = weights.get(name + ".weight", {dim});
  norm.bias = weights.get(name + ".bias", {dim});
  return norm;
}

LayerNorm LayerNorm::without_affine(int64_t dim, double eps) {
  LayerNorm norm;
  norm.dim = dim;
  norm.eps = eps;
  return norm;
}

at::Tensor LayerNorm::operator()(const at::Tensor& x) const {
  return at::layer_norm(x, {dim}, weight, bias, eps);
}

RmsNorm RmsNorm::load(const Weights& weights, const std::string& name, int64_t dim, double eps) {
  RmsNorm norm;
  norm.weight = weights.get(name + ".weight", {dim});
  norm.eps = eps;
  return norm;
}

at::Tensor RmsNorm::operator()(const at::Tensor& x) const {
  const at::Tensor variance = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);
  at::Tensor normed = x * at::rsqrt(variance + eps);
  if (weight.scalar_type() == at::kHalf || weight.scalar_type() == at::kBFloat16) {
    normed = normed.to(weight.scalar_type());
  }
  return normed * weight;
}

GroupNorm GroupNorm::load(const Weights& weights, const std::string& name, int64_t groups,
                          int64_t channels, double eps) {
  GroupNorm norm;
  norm.weight = weights.get(name + ".weight", {channels});
  norm.bias = weights.get(name + ".bias", {channels});
  norm.groups = groups;
  norm.eps = eps;
  return norm;
}

at::Tensor GroupNorm::operator()(const at::Tensor& x) const {
  return at::group_norm(x, groups, weight, bias, eps);
}

Conv2d Conv2d::load(const Weights& weights, const std::string& name, int64_t in_channels,
                    int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding) {
  Conv2d conv;
  conv.weight = weights.get(name + ".weight", {out_channels, in_channels, kernel, kernel});
  conv.bias = weights.get(name + ".bias", {out_channels});
  conv.stride = stride;
  conv.padding = padding;
  return conv;
}

at::Tensor Conv2d::operator()(const at::Tensor& x) const {
  return at::conv2d(x, weight, bias, {stride, stride}, {padding, padding});
}

at::Tensor& activate_(Activation activation, at::Tensor& x) {
  switch (activation) {
    case Activation::kSilu:
      return at::silu_(x);
    case Activation::kRelu:
      return at::relu_(x);
    case Activation::kGelu:
      return at::gelu_(x);
    case Activation::kGeluTanh:
      return at::gelu_(x, "tanh");
    case Activation::kQuickGelu:
    case Activation::kGeluNew:
      break;
  }
  x = activate(activation, x);
  return x;
}

Activation parse_activation(const std::string& name, const std::string& file,
                            const std::string& key) {
  if (name == "quick_gelu") return Activation::kQuickGelu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (name == "gelu_new") return Activation::kGeluNew;
  if (name == "relu") return Activation::kRelu;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  throw LoadError(file + ": key \"" + key + "\" names activation \"" + name +
                  "\", which is not supported (quick_gelu, gelu, gelu_pytorch_tanh, gelu_new, "
                  "relu, silu)");
}

at::Tensor activate(Activation activation, const at::Tensor& x) {
  switch (activation) {
    case Activation::kQuickGelu:
      return x * at::sigmoid(x * 1.702);
    case Activation::kGelu:
      return at::gelu(x);
    case Activation::kGeluTanh:
      return at::gelu(x, "tanh");
    case Activation::kGeluNew: {
      const double sqrt_2_over_pi = std::sqrt(2.0 / M_PI);
      return x * 0.5 * (at::tanh((x + at::pow(x, 3.0) * 0.044715) * sqrt_2_over_pi) + 1.0);
    }
    case Activation::kRelu:
      return at::relu(x);
    case Activation::kSilu:
      return at::silu(x);
  }
  return x;
}

}  // namespace flx::flux
