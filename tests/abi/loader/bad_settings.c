/* Broken on purpose: its factory declares two settings with the same environment variable. */
#include "broken_common.h"

static const flx_setting kDevice = {sizeof(flx_setting), "device", FLX_SETTING_STRING,
                                    "BROKEN_DEVICE", "--device", "D", "where to run", NULL, 0};
static const flx_setting kDtype = {sizeof(flx_setting), "dtype", FLX_SETTING_STRING,
                                   "BROKEN_DEVICE", "--dtype", "D", "what to run in", NULL, 0};
static const flx_setting* const kSettings[] = {&kDevice, &kDtype};
static const flx_factory kFactory = {sizeof(flx_factory), FLX_KIND_PIPELINE, "broken", "1.0.0",
                                     0, ok_create, noop_destroy, &kPipelineIface,
                                     2, kSettings};
static const flx_factory* const kFactories[] = {&kFactory};
static const flx_plugin_info kInfo = {sizeof(flx_plugin_info), FLX_ABI_MAJOR, FLX_ABI_MINOR,
                                      "bad_settings", "1.0.0", 1, kFactories};

FLX_EXPORT flx_error* flx_plugin_init(const flx_host_api* api, const flx_plugin_info** info) {
  g_api = api;
  *info = &kInfo;
  return NULL;
}
