#include "io/checkpoint_quantizer.h"

#include <cstring>
#include <stdexcept>

#include "io/bfl_transformer_mapping.h"
#include "io/dequantize.h"
#include "io/name_affixes.h"
#include "io/quantize.h"
#include "io/t5_gguf_mapping.h"

namespace flx::flux {
namespace {

constexpr char kComfyPrefix[] = "model.diffusion_model.";

// llama.cpp's LLAMA_FTYPE for a file whose big weights are all `target`.
uint32_t llama_file_type(DType target) {
  switch (target) {
    case DType::Q8_0: return 7;
    case DType::Q4_K: return 14;  // Q4_K_S
    case DType::Q5_K: return 16;  // Q5_K_S
    case DType::Q6_K: return 18;
    default: throw std::invalid_argument("quantize: no GGUF file type for " + std::string(dtype_name(target)));
  }
}

// The F16 fallback when a row does not hold whole blocks.
DType matrix_type(const std::vector<int64_t>& shape, DType target) {
  return shape.back() % dtype_layout(target).block_elements == 0 ? target : DType::F16;
}

bool flux_keeps_f16(const std::string& name) {
  for (const char* prefix : {"img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.",
                             "final_layer.", "x_embedder.", "context_embedder.",
                             "time_text_embed.", "norm_out.", "proj_out."}) {
    if (starts_with(name, prefix)) return true;
  }
  return false;
}

DType flux_type(const std::string& name, const std::vector<int64_t>& shape, DType target) {
  if (shape.size() < 2) return DType::F32;
  if (flux_keeps_f16(name)) return DType::F16;
  return matrix_type(shape, target);
}

DType t5_type(const std::string& gguf_name, const std::vector<int64_t>& shape, DType target) {
  if (shape.size() < 2) return DType::F32;
  if (gguf_name.find("attn_rel_b") != std::string::npos) return DType::F16;
  return matrix_type(shape, target);
}

bool contains(const std::vector<TensorLayout>& tensors, const std::string& name) {
  for (const TensorLayout& tensor : tensors) {
    if (tensor.name == name) return true;
  }
  return false;
}

bool is_t5(const TensorStore& store) {
  return is_llama_cpp_t5(store) || store.contains("shared.weight") ||
         store.contains("encoder.embed_tokens.weight");
}

void plan_flux(const std::vector<TensorLayout>& sources, DType target, QuantizationPlan* plan) {
  for (const TensorLayout& source : sources) {
    std::string name = starts_with(source.name, kComfyPrefix)
                           ? source.name.substr(sizeof kComfyPrefix - 1)
                           : source.name;
    const DType type = flux_type(name, source.shape, target);
    plan->tensors.push_back({source.name, GgufTensorSpec{name, type, source.shape}});
  }
}

void plan_t5(const std::vector<TensorLayout>& sources, DType target, const std::string& description,
             QuantizationPlan* plan) {
  const bool llama_names = contains(sources, "token_embd.weight");
  const bool has_shared = contains(sources, "shared.weight");
  for (const TensorLayout& source : sources) {
    if (!llama_names && source.name == "encoder.embed_tokens.weight" && has_shared) {
      continue;  // the same tensor as shared.weight (tied)
    }
    std::optional<std::string> name = llama_names ? source.name : llama_cpp_t5_name(source.name);
    if (!name) {
      throw LoadError(description + ": tensor " + source.name +
                      " is not a T5 encoder tensor (transformers' T5EncoderModel names)");
    }
    plan->tensors.push_back(
        {source.name, GgufTensorSpec{*name, t5_type(*name, source.shape, target), source.shape}});
  }
}

// The exact float32 values of `view` (fp8 scaled, blocks expanded, halves widened).
std::vector<float> float_values(const TensorView& view) {
  std::vector<float> values(static_cast<size_t>(view.numel()));
  dequantize_view(view, 0, view.numel(), values.data());
  return values;
}

}  // namespace

std::optional<DType> quantization_target(const std::string& name) {
  if (name == "q8_0") return DType::Q8_0;
  if (name == "q4_k") return DType::Q4_K;
  if (name == "q5_k") return DType::Q5_K;
  if (name == "q6_k") return DType::Q6_K;
  return std::nullopt;
}

QuantizationPlan plan_quantization(CheckpointKind kind, const std::vector<TensorLayout>& sources,
                                   DType target, const std::string& name,
                                   const std::string& description) {
  const uint32_t file_type = llama_file_type(target);
  QuantizationPlan plan;
  plan.kind = kind;
  const bool flux = kind == CheckpointKind::kFluxTransformer;
  if (flux) {
    plan_flux(sources, target, &plan);
  } else {
    plan_t5(sources, target, description, &plan);
  }
  plan.metadata = {gguf_string("general.architecture", flux ? "flux" : "t5encoder"),
                   gguf_string("general.name", name), gguf_uint32("general.quantization_version", 2),
                   gguf_uint32("general.file_type", file_type)};
  return plan;
}

QuantizationPlan plan_quantization(const TensorStore& store, DType target, const std::string& name) {
  CheckpointKind kind;
  if (is_bfl_transformer(store) || store.contains("x_embedder.weight")) {
    kind = CheckpointKind::kFluxTransformer;
  } else if (is_t5(store)) {
    kind = CheckpointKind::kT5Encoder;
  } else {
    throw LoadError(store.description() + ": neither a FLUX transformer (double_blocks.* or " +
                    "x_embedder) nor a T5 encoder (shared / encoder.block.* or llama.cpp's " +
                    "token_embd / enc.blk.*)");
  }
  std::vector<TensorLayout> sources;
  for (const std::string& source : store.names()) {
    const TensorView& view = store.get(source);
    sources.push_back(TensorLayout{source, view.dtype, view.shape});
  }
  return plan_quantization(kind, sources, target, name, store.description());
}

void encode_quantized(const float* values, const GgufTensorSpec& spec, unsigned char* out) {
  const int64_t count = *tensor_bytes(DType::F32, spec.shape) / 4;
  switch (spec.dtype) {
    case DType::F32: std::memcpy(out, values, static_cast<size_t>(count) * 4); return;
    case DType::F16:
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t bits = float_to_half(values[i]);
        out[2 * i] = static_cast<unsigned char>(bits & 0xFF);
        out[2 * i + 1] = static_cast<unsigned char>(bits >> 8);
      }
      return;
    default: quantize(spec.dtype, values, count, out);
  }
}

void write_quantized_checkpoint(const TensorStore& store, const QuantizationPlan& plan,
                                const std::string& path) {
  std::vector<GgufTensorSpec> specs;
  for (const PlannedTensor& tensor : plan.tensors) specs.push_back(tensor.out);
  write_gguf_streaming(path, plan.metadata, specs, [&](size_t i, unsigned char* out, size_t) {
    encode_quantized(float_values(store.get(plan.tensors[i].source)).data(), plan.tensors[i].out, out);
  });
}

}  // namespace flx::flux
