/* Broken on purpose: exports a function, but not flx_plugin_init. */
#include <flx/flx.h>

FLX_EXPORT int not_the_entry_point(void) { return 42; }
