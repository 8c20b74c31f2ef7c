// flx_pipeline_flux: the FLUX.1 pipeline plugin. One factory, type `flux` (flux_stage.h),
// not thread-safe on purpose (the host serialises its calls).
#include <flx/plugin.hpp>

#include "flux_stage.h"

FLX_PLUGIN("flx_pipeline_flux", "0.1.0",
           flx::pipeline_factory<flx::flux::FluxStage>("flux", "0.1.0", /*flags=*/0))
