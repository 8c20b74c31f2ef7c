#include "golden_tensors.h"

#include <ATen/ATen.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace flx::test {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

Object::Ptr parse_object(const std::string& path) {
  Poco::JSON::Parser parser;
  const Poco::Dynamic::Var root = parser.parse(read_file(path));
  if (root.type() != typeid(Object::Ptr)) throw std::runtime_error(path + ": not a JSON object");
  return root.extract<Object::Ptr>();
}

std::vector<int64_t> ids_of(const at::Tensor& ids) {
  const at::Tensor flat = ids.to(at::kLong).contiguous().view({-1});
  return std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
}

}  // namespace

std::vector<GoldenCase> golden_cases(const std::string& model_dir) {
  const std::string cases_path = model_dir + "/cases/cases.json";
  const Array::Ptr cases = parse_object(cases_path)->getArray("cases");
  if (cases.isNull()) throw std::runtime_error(cases_path + ": no \"cases\" list");
  std::vector<GoldenCase> result;
  for (size_t i = 0; i < cases->size(); ++i) {
    const Object::Ptr entry = cases->getObject(static_cast<unsigned>(i));
    GoldenCase golden_case;
    golden_case.name = entry->getValue<std::string>("name");
    golden_case.dir = model_dir + "/cases/" + entry->getValue<std::string>("folder");
    const Object::Ptr args = parse_object(golden_case.dir + "/meta.json")->getObject("args");
    if (args.isNull()) throw std::runtime_error(golden_case.dir + "/meta.json: no \"args\"");
    golden_case.width = args->getValue<int64_t>("width");
    golden_case.height = args->getValue<int64_t>("height");
    golden_case.steps = args->getValue<int>("steps");
    golden_case.seed = args->getValue<uint64_t>("seed");
    golden_case.guidance = args->getValue<double>("guidance");
    result.push_back(golden_case);
  }
  return result;
}

at::Tensor read_tensor_dir(const std::string& dir, const std::string& name) {
  const std::string base = dir + "/" + name;
  const Object::Ptr sidecar = parse_object(base + ".json");
  const std::string dtype = sidecar->getValue<std::string>("dtype");
  if (dtype != "float32" && dtype != "int32") {
    throw std::runtime_error(base + ".json: unsupported dtype " + dtype);
  }
  std::vector<int64_t> shape;
  const Array::Ptr dims = sidecar->getArray("shape");
  for (size_t i = 0; i < dims->size(); ++i) shape.push_back(dims->getElement<int64_t>(i));
  const std::string bytes = read_file(base + ".bin");
  at::Tensor tensor = at::empty(shape, dtype == "float32" ? at::kFloat : at::kInt);
  if (bytes.size() != static_cast<size_t>(tensor.numel() * tensor.element_size())) {
    throw std::runtime_error(base + ".bin: " + std::to_string(bytes.size()) +
                             " bytes do not match the sidecar shape");
  }
  std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
  return tensor;
}

at::Tensor read_golden(const GoldenCase& golden_case, const std::string& name) {
  return read_tensor_dir(golden_case.dir, name);
}

flux::GenerateParams golden_params(const GoldenCase& golden_case) {
  flux::GenerateParams params;
  params.clip_ids = ids_of(read_golden(golden_case, "clip_input_ids"));
  params.t5_ids = ids_of(read_golden(golden_case, "t5_input_ids"));
  params.width = golden_case.width;
  params.height = golden_case.height;
  params.steps = golden_case.steps;
  params.seed = golden_case.seed;
  params.guidance = golden_case.guidance;
  return params;
}

const flux::FluxPipeline& tiny_flux_pipeline(const std::string& model_dir) {
  static const flux::FluxPipeline pipeline(model_dir, at::kFloat, at::kCPU);
  return pipeline;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

double psnr(const at::Tensor& a, const at::Tensor& b, double peak) {
  const double mse = (a.to(at::kDouble) - b.to(at::kDouble)).pow(2).mean().item<double>();
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(peak * peak / mse);
}

}  // namespace flx::test
