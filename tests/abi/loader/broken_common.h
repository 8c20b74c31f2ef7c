/* Shared pieces of the deliberately broken test plugins: a valid pipeline interface whose
 * functions do nothing useful, so each plugin can break exactly one rule. C99. */
#ifndef FLX_TESTS_ABI_BROKEN_COMMON_H_
#define FLX_TESTS_ABI_BROKEN_COMMON_H_

#include <flx/flx.h>

/* Not every plugin uses every helper; GCC and Clang accept this attribute in C99 mode. */
#define FLX_TEST_UNUSED __attribute__((unused))

static const flx_host_api* g_api;

FLX_TEST_UNUSED static flx_error* noop_prepare(void* self) {
  (void)self;
  return NULL;
}
static flx_error* noop_generate(void* self, const flx_request* request, flx_result* result) {
  (void)self;
  (void)request;
  (void)result;
  return g_api->error_new(FLX_UNIMPLEMENTED, "broken test plugin");
}
static flx_error* noop_describe(void* self, flx_buffer* out) {
  (void)self;
  (void)out;
  return NULL;
}
FLX_TEST_UNUSED static flx_error* ok_create(const flx_host* host, const flx_config* config, uint32_t flags,
                            void** self) {
  (void)host;
  (void)config;
  (void)flags;
  *self = (void*)&g_api;
  return NULL;
}
static void noop_destroy(void* self) { (void)self; }

static const flx_pipeline_iface kPipelineIface = {sizeof(flx_pipeline_iface), noop_prepare,
                                                  noop_generate, noop_describe, NULL};

#endif /* FLX_TESTS_ABI_BROKEN_COMMON_H_ */
