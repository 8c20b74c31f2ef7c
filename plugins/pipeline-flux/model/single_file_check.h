// single_file_check.h — a single-file transformer or T5 encoder (safetensors or GGUF, often
// downloaded apart from the base folder whose configs describe the model) checked against
// those configs before anything loads: the defining shapes and the block counts. A file of
// another model size then fails at start-up and in check-config, naming the file, the tensor
// and the config it disagrees with, instead of failing later half way through a load.
#ifndef FLX_FLUX_MODEL_SINGLE_FILE_CHECK_H_
#define FLX_FLUX_MODEL_SINGLE_FILE_CHECK_H_

#include <string>

#include "io/tensor_store.h"
#include "model/flux_transformer.h"
#include "model/t5_encoder.h"

namespace flx::flux {

// `weights` (diffusers names) against `config` read from `config_file`. Throws LoadError.
void check_transformer_file(const TensorStore& weights, const FluxTransformerConfig& config,
                            const std::string& config_file);

// `weights` (transformers names) against `config` read from `config_file`. Throws LoadError.
void check_t5_file(const TensorStore& weights, const T5Config& config,
                   const std::string& config_file);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_SINGLE_FILE_CHECK_H_
