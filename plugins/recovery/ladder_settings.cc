#include "ladder_settings.h"

namespace flx::recovery {

std::vector<Rung> DefaultLadder() {
  std::vector<Rung> ladder(6);
  ladder[0].empty_cache = true;
  ladder[1].attention_slicing = "max";
  ladder[2].vae_tiling = true;
  ladder[3].offload = "model";
  ladder[4].halve_steps = true;
  ladder[5].halve_resolution = true;
  return ladder;
}

}  // namespace flx::recovery
