#include "graph_reload.h"

#include <sstream>

namespace flx {
namespace {

std::string Joined(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i > 0 ? ", " : "") + names[i];
  return out + "]";
}

// Whether two chains run through the same stage instances with the same load mode.
bool SameChain(const ModelChain& a, const ModelChain& b) {
  return a.load == b.load && a.scheduler == b.scheduler && a.recoveries == b.recoveries &&
         a.pipeline == b.pipeline;
}

void CompareModels(const StageGraph& before, const StageGraph& after, ReloadSummary* summary) {
  for (const ModelChain& m : after.models()) {
    const ModelChain* old = before.FindModel(m.id);
    if (old == nullptr) {
      summary->added_models.push_back(m.id);
    } else if (SameChain(*old, m)) {
      summary->unchanged_models.push_back(m.id);
    } else {
      summary->changed_models.push_back(m.id);
    }
  }
  for (const ModelChain& m : before.models()) {
    if (after.FindModel(m.id) == nullptr) summary->removed_models.push_back(m.id);
  }
}

void CompareStages(const StageGraph& before, const StageGraph& after, ReloadSummary* summary) {
  for (const auto& s : after.stages()) {
    (after.Kept(s.get()) ? summary->kept_stages : summary->created_stages).push_back(s->id);
  }
  for (const auto& s : before.stages()) {
    const StageInstance* same = after.FindStage(s->id);
    if (same != s.get()) summary->dropped_stages.push_back(s->id);
  }
}

// UNAVAILABLE naming the first pipeline created for `graph` that an eager model needs and
// that failed to load.
Status CheckNewPipelinesLoaded(const StageGraph& graph) {
  for (const ModelChain& m : graph.models()) {
    const StageInstance& p = *m.pipeline;
    if (m.load != ModelLoad::kEager || graph.Kept(&p)) continue;
    if (p.readiness() != Readiness::kReady) {
      return Unavailable("stage '" + p.id + "' (model '" + m.id +
                         "') did not load: " + p.readiness_message());
    }
  }
  return Status::Ok();
}

}  // namespace

std::string ReloadSummary::ToString() const {
  std::ostringstream out;
  out << "models added " << Joined(added_models) << ", removed " << Joined(removed_models)
      << ", changed " << Joined(changed_models) << ", unchanged " << Joined(unchanged_models)
      << "; stages created " << Joined(created_stages) << ", kept " << Joined(kept_stages)
      << ", dropped " << Joined(dropped_stages);
  return out.str();
}

StatusOr<std::shared_ptr<StageGraph>> PrepareReload(const StageGraph& current,
                                                    const GraphConfig& config,
                                                    const Environment* env, Diagnostics* diags,
                                                    ReloadSummary* summary) {
  StatusOr<std::unique_ptr<StageGraph>> built =
      StageGraph::Build(config, /*dry_run=*/false, diags, env, &current);
  if (!built.ok()) return built.status();
  std::shared_ptr<StageGraph> graph = std::move(*built);
  CompareModels(current, *graph, summary);
  CompareStages(current, *graph, summary);
  graph->StartPrepare();
  graph->WaitPrepared();
  FLX_RETURN_IF_ERROR(CheckNewPipelinesLoaded(*graph));
  return graph;
}

std::vector<std::string> SettingsNeedingRestart(const GraphConfig& before,
                                                const GraphConfig& after) {
  const ServerConfig& a = before.server;
  const ServerConfig& b = after.server;
  std::vector<std::string> changed;
  auto check = [&changed](bool differs, const char* path) {
    if (differs) changed.push_back(path);
  };
  check(a.listen != b.listen, "server.listen");
  check(a.output_dir != b.output_dir, "server.output_dir");
  check(a.max_body_bytes != b.max_body_bytes, "server.max_body_bytes");
  check(a.max_upload_bytes != b.max_upload_bytes, "server.max_upload_bytes");
  check(a.threads != b.threads, "server.threads");
  check(a.max_queued_connections != b.max_queued_connections, "server.max_queued_connections");
  check(a.shutdown_grace_s != b.shutdown_grace_s, "server.shutdown_grace_s");
  check(a.header_timeout_s != b.header_timeout_s, "server.header_timeout_s");
  check(a.body_timeout_s != b.body_timeout_s, "server.body_timeout_s");
  check(a.public_base_url != b.public_base_url, "server.public_base_url");
  check(a.api_keys != b.api_keys, "server.api_keys");
  check(a.admin_keys != b.admin_keys, "server.admin_keys");
  check(a.request_timeout_s != b.request_timeout_s, "server.request_timeout_s");
  check(a.job_ttl_s != b.job_ttl_s, "server.job_ttl_s");
  check(a.max_active_jobs != b.max_active_jobs, "server.max_active_jobs");
  check(a.max_kept_jobs != b.max_kept_jobs, "server.max_kept_jobs");
  check(a.max_job_result_bytes != b.max_job_result_bytes, "server.max_job_result_bytes");
  check(a.queue_workers != b.queue_workers, "server.queue_workers");
  check(before.logging.format != after.logging.format, "logging.format");
  check(before.logging.level != after.logging.level, "logging.level");
  return changed;
}

void ReportDroppedPipelines(const StageGraph& previous, StageGraph& next) {
  for (const auto& s : previous.stages()) {
    if (s->kind == FLX_KIND_PIPELINE && next.FindStage(s->id) == nullptr) {
      next.EmitModelReady(*s, false);
    }
  }
}

}  // namespace flx
