// golden_tensors.h — the tiny-flux golden cases as the model parity tests see them: case
// parameters from cases.json / meta.json, reference tensors from NAME.bin + NAME.json, and
// the distance measures compare.py reports.
#ifndef FLX_TESTS_PARITY_FLUX_MODEL_GOLDEN_TENSORS_H_
#define FLX_TESTS_PARITY_FLUX_MODEL_GOLDEN_TENSORS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/flux_pipeline.h"

namespace flx::test {

struct GoldenCase {
  std::string name;
  std::string dir;  // <model_dir>/cases/<folder>
  int64_t width = 0;
  int64_t height = 0;
  int steps = 0;
  uint64_t seed = 0;
  double guidance = 0;
};

// Every case listed in <model_dir>/cases/cases.json, with its parameters from the case's
// meta.json. Throws std::runtime_error naming the file when something is missing.
std::vector<GoldenCase> golden_cases(const std::string& model_dir);

// The golden array `name` of `golden_case` (float32 or int32 per its sidecar) as a CPU
// tensor of the sidecar's shape. Throws std::runtime_error naming the file on any mismatch.
at::Tensor read_golden(const GoldenCase& golden_case, const std::string& name);
// The same for an arbitrary folder written in the golden format.
at::Tensor read_tensor_dir(const std::string& dir, const std::string& name);

// The generate() parameters that reproduce `golden_case`, token ids read from its
// clip_input_ids / t5_input_ids.
flux::GenerateParams golden_params(const GoldenCase& golden_case);

// The tiny-flux pipeline in float32 on the CPU, loaded from `model_dir` on first use and
// shared by every test of the binary.
const flux::FluxPipeline& tiny_flux_pipeline(const std::string& model_dir);

// max |a - b| and 10 log10(peak^2 / mean((a - b)^2)) (infinity when equal), in float64.
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);
double psnr(const at::Tensor& a, const at::Tensor& b, double peak);

}  // namespace flx::test

#endif  // FLX_TESTS_PARITY_FLUX_MODEL_GOLDEN_TENSORS_H_
