/* Broken on purpose: claims an ABI major the host does not speak. */
#include "broken_common.h"

static const flx_factory kFactory = {sizeof(flx_factory), FLX_KIND_PIPELINE, "broken", "1.0.0",
                                     0, ok_create, noop_destroy, &kPipelineIface,
                                     0, NULL};
static const flx_factory* const kFactories[] = {&kFactory};
static const flx_plugin_info kInfo = {sizeof(flx_plugin_info), FLX_ABI_MAJOR + 1, 0, "wrong_major",
                                      "1.0.0", 1, kFactories};

FLX_EXPORT flx_error* flx_plugin_init(const flx_host_api* api, const flx_plugin_info** info) {
  g_api = api;
  *info = &kInfo;
  return NULL;
}
