/* Broken on purpose: flx_plugin_init reports an error (e.g. a missing runtime dependency). */
#include <flx/flx.h>

FLX_EXPORT flx_error* flx_plugin_init(const flx_host_api* api, const flx_plugin_info** info) {
  (void)info;
  return api->error_new(FLX_FAILED_PRECONDITION, "the frobnicator runtime is not installed");
}
