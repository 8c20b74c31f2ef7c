// Reads the `config:` map of a `fifo` scheduler stage. Every key is optional.
//
//   key                 type    range            default  meaning
//   max_concurrent      int     >= 1             1        jobs running at once, server-wide
//   max_queue           int     >= 0             32       jobs allowed to wait; more get 429
//   queue_timeout_s     number  (0, 604800]      600      longest wait; then 504
//   poll_interval_ms    int     [1, 3600000]     20       cancellation check period
//   retry_after_window  int     [1, 1048576]     16       service times averaged for 429s
//   min_retry_after_s   number  [0, 86400]       1        smallest Retry-After (also the
//                                                         value before any job finished)
#ifndef FLX_PLUGINS_SCHEDULER_FIFO_CONFIG_H_
#define FLX_PLUGINS_SCHEDULER_FIFO_CONFIG_H_

#include <flx/plugin.hpp>

#include "fifo_admission.h"

namespace flx::sched {

// Returns the limits `config` asks for, defaults filling the keys it leaves out. Throws one
// flx::Error (INVALID_ARGUMENT) listing every bad key, one per line, each located at
// file:line:col by the host.
FifoLimits ReadFifoLimits(const flx::Config& config);

}  // namespace flx::sched

#endif  // FLX_PLUGINS_SCHEDULER_FIFO_CONFIG_H_
