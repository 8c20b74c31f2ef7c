#include "model/tensor_dump.h"

#include <ATen/ATen.h>
#include <Poco/Exception.h>
#include <Poco/File.h>

#include <fstream>
#include <stdexcept>
#include <utility>

namespace flx::flux {

TensorDump::TensorDump(std::string directory) : directory_(std::move(directory)) {
  try {
    Poco::File(directory_).createDirectories();
  } catch (const Poco::Exception& error) {
    throw std::runtime_error(directory_ + ": cannot create dump directory: " + error.displayText());
  }
}

void TensorDump::write(const std::string& name, const at::Tensor& tensor) const {
  const bool floating = at::isFloatingType(tensor.scalar_type());
  const at::Tensor data =
      tensor.detach().to(at::kCPU, floating ? at::kFloat : at::kInt).contiguous();
  const std::string base = directory_ + "/" + name;

  std::ofstream bin(base + ".bin", std::ios::binary | std::ios::trunc);
  bin.write(static_cast<const char*>(data.data_ptr()),
            static_cast<std::streamsize>(data.numel() * data.element_size()));
  if (!bin) throw std::runtime_error(base + ".bin: cannot write tensor dump");

  std::string shape;
  for (int64_t size : data.sizes()) {
    shape += (shape.empty() ? "" : ", ") + std::to_string(size);
  }
  std::ofstream json(base + ".json", std::ios::trunc);
  json << "{\"dtype\": \"" << (floating ? "float32" : "int32") << "\", \"shape\": [" << shape
       << "]}\n";
  if (!json) throw std::runtime_error(base + ".json: cannot write tensor dump sidecar");
}

}  // namespace flx::flux
