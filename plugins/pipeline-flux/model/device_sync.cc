#include "model/device_sync.h"

#include <ATen/ATen.h>

namespace flx::flux {

void wait_for(const at::Tensor& produced) {
  if (!produced.defined() || produced.device().is_cpu() || produced.numel() == 0) return;
  (void)produced.reshape({-1}).slice(0, 0, 1).to(at::kCPU);
}

}  // namespace flx::flux
