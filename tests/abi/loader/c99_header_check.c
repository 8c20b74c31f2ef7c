/* The SDK header must compile as strict C99 (built with -std=c99 -pedantic -Werror) and its
 * struct layouts are pinned: a change that moves a field breaks every built plugin, so it must
 * break this build first. Offsets are for LP64 (x86-64, aarch64 Linux). */
#include <flx/flx.h>
#include <stddef.h>

#define FLX_PIN_AT(line, cond) typedef char flx_pin_line_##line[(cond) ? 1 : -1]
#define FLX_PIN_L(line, cond) FLX_PIN_AT(line, cond)
#define PIN(cond) FLX_PIN_L(__LINE__, cond)

PIN(sizeof(void*) == 8);
PIN(offsetof(flx_host_api, struct_size) == 0);
PIN(offsetof(flx_host_api, abi_major) == 8);
PIN(offsetof(flx_host_api, abi_minor) == 12);
PIN(offsetof(flx_host_api, error_new) == 16);
PIN(offsetof(flx_host_api, error_free) == 56);
PIN(offsetof(flx_host_api, log) == 64);
PIN(offsetof(flx_host_api, config_get_string) == 80);
PIN(offsetof(flx_host_api, config_error) == 160);
PIN(offsetof(flx_host_api, emit) == 168);
PIN(offsetof(flx_host_api, buffer_append) == 224);
PIN(offsetof(flx_host_api, preview_wanted) == 232); /* ABI 1.2 */
PIN(offsetof(flx_host_api, preview) == 240);
PIN(sizeof(flx_host_api) == 248);

PIN(offsetof(flx_request, id) == 8);
PIN(offsetof(flx_request, width) == 40);
PIN(offsetof(flx_request, guidance) == 56);
PIN(offsetof(flx_request, seed) == 64);
PIN(offsetof(flx_request, overrides) == 72);
PIN(offsetof(flx_request, call) == 88);
PIN(offsetof(flx_request, dump_dir) == 96); /* ABI 1.1 */
PIN(offsetof(flx_request, init_image) == 104); /* ABI 1.3 */
PIN(offsetof(flx_request, mask) == 112);
PIN(offsetof(flx_request, strength) == 120);
PIN(offsetof(flx_request, loras) == 128); /* ABI 1.4 */
PIN(offsetof(flx_request, n_loras) == 136);
PIN(offsetof(flx_request, loras_given) == 144);
PIN(sizeof(flx_request) == 152);
PIN(offsetof(flx_lora, scale) == 8);
PIN(sizeof(flx_lora) == 16);
PIN(offsetof(flx_pipeline_iface, unload) == 32); /* ABI 1.4 */

PIN(offsetof(flx_image, width) == 8); /* ABI 1.3 */
PIN(offsetof(flx_image, channels) == 16);
PIN(offsetof(flx_image, stride) == 24);
PIN(offsetof(flx_image, pixels) == 32);
PIN(sizeof(flx_image) == 40);

PIN(offsetof(flx_event, type) == 8);
PIN(offsetof(flx_event, value) == 56);
PIN(sizeof(flx_event) == 80);

PIN(offsetof(flx_factory, kind) == 8);
PIN(offsetof(flx_factory, type_name) == 16);
PIN(offsetof(flx_factory, flags) == 32);
PIN(offsetof(flx_factory, create) == 40);
PIN(offsetof(flx_factory, iface) == 56);
PIN(offsetof(flx_factory, n_settings) == 64); /* ABI 1.2 */
PIN(offsetof(flx_factory, settings) == 72);   /* ABI 1.2 */
PIN(sizeof(flx_factory) == 80);

PIN(offsetof(flx_setting, key) == 8);
PIN(offsetof(flx_setting, type) == 16);
PIN(offsetof(flx_setting, env) == 24);
PIN(offsetof(flx_setting, cli_flag) == 32);
PIN(offsetof(flx_setting, oneshot_value) == 56);
PIN(offsetof(flx_setting, flags) == 64);
PIN(sizeof(flx_setting) == 72);

PIN(offsetof(flx_plugin_info, abi_major) == 8);
PIN(offsetof(flx_plugin_info, factories) == 40);
PIN(sizeof(flx_plugin_info) == 48);

PIN(sizeof(flx_scheduler_iface) == 32);
PIN(offsetof(flx_queue_iface, submit) == 8); /* ABI 1.3 */
PIN(offsetof(flx_queue_iface, read_events) == 48);
PIN(offsetof(flx_queue_iface, claim) == 56);
PIN(offsetof(flx_queue_iface, finish) == 72);
PIN(offsetof(flx_queue_iface, check) == 80);
PIN(sizeof(flx_queue_iface) == 96);
PIN(sizeof(flx_pipeline_iface) == 40);
PIN(sizeof(flx_recovery_iface) == 16);
PIN(sizeof(flx_metrics_iface) == 32);
PIN(sizeof(flx_admission) == 24);

int flx_c99_header_check(void) { return FLX_ABI_MAJOR; }
