// token_ids.h — checks on the token id tensors the text encoders are given.
#ifndef FLX_FLUX_MODEL_TOKEN_IDS_H_
#define FLX_FLUX_MODEL_TOKEN_IDS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace flx::flux {

// Throws std::invalid_argument naming `model` unless `ids` is a non-empty [B, L] integer
// tensor whose values all lie in [0, vocab_size); the message names the first bad position.
void check_token_ids(const at::Tensor& ids, int64_t vocab_size, const std::string& model);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_TOKEN_IDS_H_
