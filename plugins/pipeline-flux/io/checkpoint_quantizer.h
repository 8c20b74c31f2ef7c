// checkpoint_quantizer.h — `fluxserve quantize`: a FLUX transformer or T5 encoder checkpoint
// (safetensors of any float or fp8 type, or a GGUF) written as a GGUF of one target type, one
// tensor in memory at a time, with the type policy of the files users already have:
//  * FLUX (city96's ComfyUI-GGUF rules for arch "flux"): 1-D tensors F32; the weights of
//    img_in, txt_in, time_in, vector_in, guidance_in and final_layer (diffusers: x_embedder,
//    context_embedder, time_text_embed, norm_out, proj_out) F16; every other 2-D weight in the
//    target type, or F16 when its row length is not a whole number of blocks. Names are kept
//    (a "model.diffusion_model." prefix is dropped), so a black-forest-labs file stays one.
//  * T5 encoder (llama.cpp's rules): 1-D norms F32, the relative attention bias F16, the rest
//    in the target type (F16 fallback as above); written under llama.cpp's names
//    (token_embd, enc.blk.N.*), general.architecture "t5encoder".
#ifndef FLX_FLUX_IO_CHECKPOINT_QUANTIZER_H_
#define FLX_FLUX_IO_CHECKPOINT_QUANTIZER_H_

#include <optional>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/tensor_store.h"

namespace flx::flux {

enum class CheckpointKind { kFluxTransformer, kT5Encoder };

struct PlannedTensor {
  std::string source;  // name in the input store
  GgufTensorSpec out;  // name, type and shape written
};

struct QuantizationPlan {
  CheckpointKind kind = CheckpointKind::kFluxTransformer;
  std::vector<PlannedTensor> tensors;
  std::vector<GgufMetadataEntry> metadata;
};

// The target type a `--type` / `--quantize` value names: q8_0, q4_k, q5_k or q6_k (lower
// case, as the tools spell them), else nullopt.
std::optional<DType> quantization_target(const std::string& name);

// What the input is (FLUX transformer in black-forest-labs or diffusers names, or a T5
// encoder in transformers or llama.cpp names) and how each tensor is written in `target`
// (Q8_0, Q4_K, Q5_K or Q6_K). `name` becomes general.name. Throws LoadError naming the file
// when the store is neither kind, or std::invalid_argument for another target.
QuantizationPlan plan_quantization(const TensorStore& store, DType target, const std::string& name);

// The same plan for a checkpoint known by its tensors' names and shapes only (the dtypes of
// `sources` are ignored), e.g. one being generated (make-demo-model --quantize). `description`
// names it in errors (a T5 tensor outside transformers' names).
QuantizationPlan plan_quantization(CheckpointKind kind, const std::vector<TensorLayout>& sources,
                                   DType target, const std::string& name,
                                   const std::string& description);

// Writes the float32 `values` of planned tensor `spec` (tensor_bytes(F32, spec.shape) / 4 of
// them) to `out` in spec.dtype: F32 copied, F16 rounded, block types quantized (io/quantize.h).
void encode_quantized(const float* values, const GgufTensorSpec& spec, unsigned char* out);

// Writes `plan` for `store` to `path` (write_gguf_streaming): each tensor's exact float32
// values (io/dequantize.h) converted to its planned type.
void write_quantized_checkpoint(const TensorStore& store, const QuantizationPlan& plan,
                                const std::string& path);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_CHECKPOINT_QUANTIZER_H_
