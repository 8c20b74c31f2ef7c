// Reads the `config:` map of a `prometheus` metrics stage. Every key is optional.
//
//   key             type              default            meaning
//   path            string            /metrics           GET path of the exposition; starts
//                                                        with '/', no spaces, '?' or '#'
//   rolling_window  int               50                 completed requests per model that
//                                                        /v1/models averages, 1..100000
//   buckets         list of numbers   1 ms .. 600 s      upper bounds in seconds of every
//                                                        duration histogram; finite, > 0,
//                                                        strictly increasing
#ifndef FLX_PLUGINS_METRICS_PROMETHEUS_CONFIG_H_
#define FLX_PLUGINS_METRICS_PROMETHEUS_CONFIG_H_

#include <flx/plugin.hpp>

#include "metrics_settings.h"

namespace flx::metrics {

// Returns the settings `config` asks for, defaults filling the keys it leaves out. Throws
// one flx::Error (INVALID_ARGUMENT) listing every bad key, one per line, each located at
// file:line:col by the host.
MetricsSettings ReadMetricsSettings(const flx::Config& config);

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_PROMETHEUS_CONFIG_H_
