// tensor_dump.h — writes tensors in the golden folder format: NAME.bin (raw little-endian,
// C order) plus a NAME.json sidecar {"dtype": "float32"|"int32", "shape": [...]}, which is
// what /work/shared/golden/compare.py reads.
#ifndef FLX_FLUX_MODEL_TENSOR_DUMP_H_
#define FLX_FLUX_MODEL_TENSOR_DUMP_H_

#include <ATen/core/Tensor.h>

#include <string>

namespace flx::flux {

class TensorDump {
 public:
  // Creates `directory` (and its parents) when missing; throws std::runtime_error naming it
  // when that fails.
  explicit TensorDump(std::string directory);

  // Writes `tensor` as `name`: floating tensors as float32, integer tensors as int32.
  // Throws std::runtime_error naming the file when it cannot be written.
  void write(const std::string& name, const at::Tensor& tensor) const;

  const std::string& directory() const { return directory_; }

 private:
  std::string directory_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_TENSOR_DUMP_H_
