// The flx_metrics plugin: binds EventRecorder to the metrics ABI as type `prometheus`.
#include <flx/plugin.hpp>
#include <string>

#include "event_recorder.h"
#include "exposition_format.h"
#include "process_memory.h"
#include "prometheus_config.h"

namespace flx::metrics {
namespace {

constexpr char kPluginVersion[] = "1.0.0";

// The ABI the running host speaks: more telling in a dashboard than the one compiled here.
std::string HostAbi() {
  const flx_host_api* api = flx::host_api();
  return std::to_string(api->abi_major) + "." + std::to_string(api->abi_minor);
}

class PrometheusStage final : public flx::Metrics {
 public:
  explicit PrometheusStage(const flx::StageContext& context)
      : settings_(ReadMetricsSettings(context.config)),
        recorder_(settings_, BuildInfo{kPluginVersion, HostAbi()}, &ReadResidentMemoryBytes) {}

  void observe(const flx_event& event) override { recorder_.Observe(event); }

  bool http_get(const std::string& path, std::string* body, const char** content_type) override {
    if (path != settings_.path) return false;
    *body = recorder_.Exposition();
    *content_type = kExpositionContentType;
    return true;
  }

  std::string describe_model(const std::string& model) override {
    return recorder_.DescribeModel(model);
  }

 private:
  const MetricsSettings settings_;
  EventRecorder recorder_;
};

}  // namespace
}  // namespace flx::metrics

FLX_PLUGIN("flx_metrics", flx::metrics::kPluginVersion,
           flx::metrics_factory<flx::metrics::PrometheusStage>("prometheus",
                                                               flx::metrics::kPluginVersion,
                                                               FLX_FLAG_THREADSAFE))
