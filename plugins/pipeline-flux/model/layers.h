// layers.h — the stateless building blocks the networks are made of. Each holds its weights
// (zero-copy where possible, see weights.h) and computes exactly the libtorch ops the
// PyTorch reference modules run, in the same order, so float32 results match bit for bit
// wherever the kernels are the same.
#ifndef FLX_FLUX_MODEL_LAYERS_H_
#define FLX_FLUX_MODEL_LAYERS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "model/quantized_matrix.h"
#include "model/weights.h"

namespace flx::flux {

// nn.Linear: y = x W^T + b. Weight [out, in], bias [out] (absent when has_bias is false).
// A weight stored quantized in the file stays quantized (`quantized`, weight undefined) when
// the Weights allow it, and is expanded for each call (quantized_matrix.h). A weight overlay
// active on the calling thread (weight_overlay.h) that holds `name` replaces the weight.
struct Linear {
  at::Tensor weight;
  at::Tensor bias;
  std::shared_ptr<const QuantizedMatrix> quantized;
  std::string name;  // the weight's full name without ".weight"

  int64_t out_features() const;
  int64_t in_features() const;
  // The weight as a dense tensor in the compute dtype (a quantized one expanded now).
  at::Tensor dense_weight() const;

  static Linear load(const Weights& weights, const std::string& name, int64_t in_features,
                     int64_t out_features, bool has_bias = true);
  at::Tensor operator()(const at::Tensor& x) const;
};

// nn.LayerNorm over the last dimension; weight and bias are absent for the
// elementwise_affine=False norms of the flow transformer.
struct LayerNorm {
  at::Tensor weight;
  at::Tensor bias;
  int64_t dim = 0;
  double eps = 1e-5;

  static LayerNorm load(const Weights& weights, const std::string& name, int64_t dim, double eps);
  static LayerNorm without_affine(int64_t dim, double eps);
  at::Tensor operator()(const at::Tensor& x) const;
};

// RMS norm over the last dimension with a learned scale, as diffusers' RMSNorm and
// transformers' T5LayerNorm compute it: the mean square is taken in float32, the input is
// scaled by rsqrt(ms + eps), cast back to the weight dtype when that is half precision, and
// multiplied by the weight.
struct RmsNorm {
  at::Tensor weight;
  double eps = 1e-6;

  static RmsNorm load(const Weights& weights, const std::string& name, int64_t dim, double eps);
  at::Tensor operator()(const at::Tensor& x) const;
};

// nn.GroupNorm with affine parameters, on [N, C, *] inputs.
struct GroupNorm {
  at::Tensor weight;
  at::Tensor bias;
  int64_t groups = 32;
  double eps = 1e-6;

  static GroupNorm load(const Weights& weights, const std::string& name, int64_t groups,
                        int64_t channels, double eps);
  at::Tensor operator()(const at::Tensor& x) const;
};

// nn.Conv2d with a square kernel, bias, and symmetric padding.
struct Conv2d {
  at::Tensor weight;
  at::Tensor bias;
  int64_t stride = 1;
  int64_t padding = 0;

  static Conv2d load(const Weights& weights, const std::string& name, int64_t in_channels,
                     int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding);
  at::Tensor operator()(const at::Tensor& x) const;
};

// The activation functions the supported configs name.
enum class Activation {
  kQuickGelu,  // "quick_gelu": x * sigmoid(1.702 x) (CLIP)
  kGelu,       // "gelu": exact erf GELU
  kGeluTanh,   // "gelu_pytorch_tanh": torch's tanh-approximated GELU
  kGeluNew,    // "gelu_new": the tanh approximation written out as in transformers
  kRelu,       // "relu"
  kSilu,       // "silu" / "swish"
};

// The Activation a config spells `name`; throws LoadError "<file>: key \"<key>\" ..." for
// names we do not implement.
Activation parse_activation(const std::string& name, const std::string& file,
                            const std::string& key);
at::Tensor activate(Activation activation, const at::Tensor& x);
// The same computed in place on `x` (a tensor the caller owns and no longer needs), saving an
// activation-sized buffer; returns `x`.
at::Tensor& activate_(Activation activation, at::Tensor& x);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_LAYERS_H_
