/* Broken on purpose: needs a symbol nobody provides. Linked without --no-undefined, so only
 * the loader's RTLD_NOW catches it, at load time rather than at the first request. */
#include <flx/flx.h>

extern int flx_test_symbol_that_does_not_exist(void);

FLX_EXPORT flx_error* flx_plugin_init(const flx_host_api* api, const flx_plugin_info** info) {
  (void)info;
  if (flx_test_symbol_that_does_not_exist() != 0) return NULL;
  return api->error_new(FLX_INTERNAL, "unreachable");
}
