#include "jobs/shared_job_record.h"

#include <cstdio>
#include <cstdlib>

namespace flx {
namespace {

std::string Seconds(double value) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.3f", value);
  return text;
}

std::string Member(const QueueRecord& record, const char* key) {
  const auto it = record.find(key);
  return it == record.end() ? "" : it->second;
}

uint32_t Count(const QueueRecord& record, const char* key) {
  return static_cast<uint32_t>(std::strtoul(Member(record, key).c_str(), nullptr, 10));
}

std::optional<double> Time(const QueueRecord& record, const char* key) {
  const std::string text = Member(record, key);
  if (text.empty()) return std::nullopt;
  return std::strtod(text.c_str(), nullptr);
}

}  // namespace

QueueFields SubmittedRecord(const std::string& id, const RunShape& shape, double created_at) {
  return {{"id", id},
          {"model", shape.model},
          {"status", "queued"},
          {"created_at", Seconds(created_at)},
          {"width", std::to_string(shape.width)},
          {"height", std::to_string(shape.height)},
          {"steps_requested", std::to_string(shape.steps)},
          {"n", std::to_string(shape.n)}};
}

QueueFields ProgressRecord(const JobSnapshot& s) {
  QueueFields fields = {{"status", JobStatusName(s.status)},
                        {"step", std::to_string(s.step)},
                        {"steps", std::to_string(s.steps)},
                        {"step_seconds", Seconds(s.step_seconds)}};
  if (s.started_at) fields.emplace_back("started_at", Seconds(*s.started_at));
  return fields;
}

QueueFields FinalRecord(const JobSnapshot& s) {
  QueueFields fields = ProgressRecord(s);
  fields.emplace_back("finished_at", Seconds(s.finished_at.value_or(UnixNow())));
  if (s.status == JobStatus::kSucceeded) {
    fields.emplace_back("response", s.response_json);
  } else {
    fields.emplace_back("error", s.error_json);
    fields.emplace_back("error_status", std::to_string(s.error_status));
  }
  return fields;
}

JobSnapshot SnapshotFromRecord(const QueueRecord& record) {
  JobSnapshot s;
  s.id = Member(record, "id");
  s.model = Member(record, "model");
  s.status = ParseJobStatus(Member(record, "status")).value_or(JobStatus::kQueued);
  s.step = Count(record, "step");
  s.steps = Count(record, "steps");
  s.step_seconds = Time(record, "step_seconds").value_or(0);
  s.created_at = Time(record, "created_at").value_or(0);
  s.started_at = Time(record, "started_at");
  s.finished_at = Time(record, "finished_at");
  s.cancel_requested = Member(record, "cancel_requested") == "1";
  s.response_json = Member(record, "response");
  s.error_json = Member(record, "error");
  s.error_status = static_cast<int>(Count(record, "error_status"));
  return s;
}

RunShape ShapeFromRecord(const QueueRecord& record) {
  return RunShape{Member(record, "model"), Count(record, "width"), Count(record, "height"),
                  Count(record, "steps_requested"), Count(record, "n")};
}

std::optional<size_t> QueuePositionFromRecord(const QueueRecord& record) {
  const std::string text = Member(record, "queue_position");
  if (text.empty()) return std::nullopt;
  return static_cast<size_t>(std::strtoull(text.c_str(), nullptr, 10)) + 1;
}

}  // namespace flx
