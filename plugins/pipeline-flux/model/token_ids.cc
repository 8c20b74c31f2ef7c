#include "model/token_ids.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace flx::flux {

void check_token_ids(const at::Tensor& ids, int64_t vocab_size, const std::string& model) {
  if (ids.dim() != 2 || ids.size(0) == 0 || ids.size(1) == 0) {
    throw std::invalid_argument(model + ": token ids must be a non-empty [batch, length] tensor");
  }
  if (at::isFloatingType(ids.scalar_type()) || ids.scalar_type() == at::kBool) {
    throw std::invalid_argument(model + ": token ids must be integers");
  }
  const at::Tensor ids64 = ids.to(at::kCPU, at::kLong).contiguous();
  const int64_t* values = ids64.data_ptr<int64_t>();
  for (int64_t i = 0; i < ids64.numel(); ++i) {
    if (values[i] < 0 || values[i] >= vocab_size) {
      throw std::invalid_argument(model + ": token id " + std::to_string(values[i]) +
                                  " at sequence " + std::to_string(i / ids64.size(1)) +
                                  ", position " + std::to_string(i % ids64.size(1)) +
                                  " is outside the vocabulary of " + std::to_string(vocab_size));
    }
  }
}

}  // namespace flx::flux
