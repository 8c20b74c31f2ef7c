// weights.h — the bridge from flx_flux_io's TensorStore (file bytes) to libtorch tensors in
// the dtype and on the device the networks compute in.
#ifndef FLX_FLUX_MODEL_WEIGHTS_H_
#define FLX_FLUX_MODEL_WEIGHTS_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/quantized_matrix.h"
#include "model/weight_registry.h"

namespace flx::flux {

// The libtorch element type of a safetensors dtype (F32 -> kFloat, BF16 -> kBFloat16, ...).
c10::ScalarType to_scalar_type(DType dtype);

// A new float32 CPU tensor holding the exact values of a quantized view (fp8 with its scale,
// ggml block types), as io/dequantize.h defines them.
at::Tensor dequantized_tensor(const TensorView& view);

// A zero-copy CPU tensor over `view`'s bytes in the file's own dtype. The tensor keeps
// view.owner (the mapping) alive. The memory is read-only: callers must never write into it.
at::Tensor tensor_from_view(const TensorView& view);

// `quantize:` for one component: float linear weights are quantized to `type` at load, as the
// community's quantized files are (ComfyUI-GGUF's policy): 2-D weights whose rows are whole
// blocks, except those whose full name starts with one of `keep_float` (the small input and
// output projections, which cost little memory and much quality).
struct QuantizeOnLoad {
  std::optional<DType> type;
  std::vector<std::string> keep_float;

  // Whether the float tensor `view` (full name view.name) is quantized under this policy.
  bool applies(const TensorView& view) const;
};

// The weights of one component seen through a name prefix ("transformer_blocks.3."), handed
// out as tensors in one compute dtype on one device. A tensor whose file dtype and device
// already match is the zero-copy mapping itself; anything else is converted once, here
// (quantized tensors are dequantized exactly to float32 first, then converted).
// Copies are cheap and share the store.
class Weights {
 public:
  // With a `registry`, every tensor handed out is recorded there under its full name so it
  // can be offloaded later; the device must then be the CPU (the host side of offloading).
  // Throws std::invalid_argument otherwise.
  Weights(TensorStore store, c10::ScalarType dtype, c10::Device device,
          std::shared_ptr<WeightRegistry> registry = nullptr);

  // The same weights with `prefix` appended to the current prefix.
  Weights scoped(const std::string& prefix) const;

  // True when the store holds prefix + name.
  bool contains(const std::string& name) const;
  // prefix + name, which must have exactly `shape`, in the compute dtype and on the device.
  // Throws LoadError naming the tensor and the store when it is missing or has another shape.
  at::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
  // prefix + name as a matrix kept quantized, or nullptr (then use get()). A matrix the file
  // stores quantized (fp8 or ggml blocks) stays so; a float one is quantized here to the
  // quantize_on_load() type when that is set and the matrix is eligible (see
  // QuantizeOnLoad::applies). Never after keep_quantized(false). With a registry (offload)
  // the matrix is not recorded: it stays on the host and expands onto the registry's
  // accelerator per call. Throws LoadError like get() for a missing tensor or wrong shape.
  std::shared_ptr<const QuantizedMatrix> get_quantized(const std::string& name,
                                                       const std::vector<int64_t>& shape) const;
  // The same weights, keeping quantized linear weights quantized (the default) or not.
  Weights keep_quantized(bool keep) const;
  // The same weights, quantizing eligible float matrices to `policy.type` as they load.
  Weights quantize_on_load(QuantizeOnLoad policy) const;
  // As get(), but in `dtype` instead of the compute dtype (for the few tensors diffusers
  // keeps in float32 whatever the model dtype).
  at::Tensor get_as(const std::string& name, const std::vector<int64_t>& shape,
                    c10::ScalarType dtype) const;

  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }
  const std::string& prefix() const { return prefix_; }
  // What the store was read from, for error messages.
  const std::string& description() const { return store_->description(); }

 private:
  std::shared_ptr<const TensorStore> store_;
  std::shared_ptr<WeightRegistry> registry_;
  c10::ScalarType dtype_;
  c10::Device device_;
  std::string prefix_;
  bool keep_quantized_ = true;
  QuantizeOnLoad quantize_on_load_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_WEIGHTS_H_
