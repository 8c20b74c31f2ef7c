// device_sync.h — waiting for an accelerator to finish the work queued so far, so wall-clock
// phase and step times measure the work and not only its launch. CUDA and MPS run kernels
// asynchronously; copying one element of the result to the host returns only after the
// stream that produced it has reached it. This needs no CUDA-specific library (Debian's
// libtorch has none), works for every device kind, and costs nothing on the CPU, where it
// returns at once.
#ifndef FLX_FLUX_MODEL_DEVICE_SYNC_H_
#define FLX_FLUX_MODEL_DEVICE_SYNC_H_

#include <ATen/core/Tensor.h>

namespace flx::flux {

// Returns once `produced` (any tensor the queued work writes last) is computed.
void wait_for(const at::Tensor& produced);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_DEVICE_SYNC_H_
