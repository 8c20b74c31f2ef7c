/* Broken on purpose: every create() fails with a located config error. */
#include "broken_common.h"

static flx_error* failing_create(const flx_host* host, const flx_config* config, uint32_t flags,
                                 void** self) {
  (void)host;
  (void)flags;
  (void)self;
  return g_api->config_error(config, "weights file 'nowhere.safetensors' does not exist");
}

static const flx_factory kFactory = {sizeof(flx_factory), FLX_KIND_PIPELINE, "broken", "1.0.0",
                                     0, failing_create, noop_destroy, &kPipelineIface,
                                     0, NULL};
static const flx_factory* const kFactories[] = {&kFactory};
static const flx_plugin_info kInfo = {sizeof(flx_plugin_info), FLX_ABI_MAJOR, FLX_ABI_MINOR,
                                      "failing_create", "1.0.0", 1, kFactories};

FLX_EXPORT flx_error* flx_plugin_init(const flx_host_api* api, const flx_plugin_info** info) {
  g_api = api;
  *info = &kInfo;
  return NULL;
}
