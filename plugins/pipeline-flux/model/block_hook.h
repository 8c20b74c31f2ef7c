// block_hook.h — how a network tells its caller which block it is about to run, so weights
// can be streamed to the accelerator one block at a time (offload: sequential).
#ifndef FLX_FLUX_MODEL_BLOCK_HOOK_H_
#define FLX_FLUX_MODEL_BLOCK_HOOK_H_

#include <functional>
#include <string>

namespace flx::flux {

// Called right before (starting = true) and right after (starting = false) a network runs one
// of its blocks, with the weight-name prefix of the block's weights ("transformer_blocks.3.",
// "single_transformer_blocks.0.", "encoder.block.5."). An empty hook is never called.
using BlockHook = std::function<void(const std::string& block, bool starting)>;

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_BLOCK_HOOK_H_
