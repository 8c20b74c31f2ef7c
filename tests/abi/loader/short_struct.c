/* Broken on purpose: its factory's struct_size is smaller than ABI 1.0's flx_factory. */
#include "broken_common.h"

static const flx_factory kFactory = {sizeof(size_t) + sizeof(flx_kind), FLX_KIND_PIPELINE,
                                     "broken", "1.0.0", 0, ok_create, noop_destroy,
                                     &kPipelineIface, 0, NULL};
static const flx_factory* const kFactories[] = {&kFactory};
static const flx_plugin_info kInfo = {sizeof(flx_plugin_info), FLX_ABI_MAJOR, FLX_ABI_MINOR,
                                      "short_struct", "1.0.0", 1, kFactories};

FLX_EXPORT flx_error* flx_plugin_init(const flx_host_api* api, const flx_plugin_info** info) {
  g_api = api;
  *info = &kInfo;
  return NULL;
}
