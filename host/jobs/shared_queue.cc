#include "jobs/shared_queue.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "error.h"
#include "host_api.h"

namespace flx {
namespace {

// A JSON object of string members (other values read as their JSON text).
QueueRecord RecordFrom(const Poco::JSON::Object& object) {
  QueueRecord record;
  for (const auto& [key, value] : object)
    record[key] = value.isString() ? value.extract<std::string>() : value.toString();
  return record;
}

template <class T>
StatusOr<T> Parsed(const std::string& text, const std::string& what) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<T>();
  } catch (const Poco::Exception& e) {
    return Internal("the job queue's " + what + " is not the JSON expected: " + e.displayText());
  }
}

}  // namespace

std::vector<flx_kv> AsKeyValues(const QueueFields& fields) {
  std::vector<flx_kv> kv;
  kv.reserve(fields.size());
  for (const auto& [key, value] : fields) kv.push_back(flx_kv{key.c_str(), value.c_str()});
  return kv;
}

SharedQueue::SharedQueue(StageInstance* stage) : stage_(stage) {}

Status SharedQueue::Consume(flx_error* error, QueueFailure* failure) {
  if (error == nullptr) return Status::Ok();
  if (failure != nullptr) {
    const auto expired = error->details.find("expired");
    failure->expired = expired != error->details.end() && expired->second == "true";
    const auto retry = error->details.find("retry_after_ms");
    if (retry != error->details.end()) failure->retry_after_ms = retry->second;
  }
  return ConsumeError(error);
}

Status SharedQueue::Submit(const std::string& job_id, const std::string& model,
                           const QueueFields& record, const std::string& payload,
                           QueueFailure* failure) {
  const std::vector<flx_kv> kv = AsKeyValues(record);
  return Consume(iface().submit(stage_->self, job_id.c_str(), model.c_str(), kv.data(), kv.size(),
                                payload.c_str()),
                 failure);
}

StatusOr<QueueRecord> SharedQueue::Get(const std::string& job_id, QueueFailure* failure) {
  flx_buffer out;
  FLX_RETURN_IF_ERROR(Consume(iface().get(stage_->self, job_id.c_str(), &out), failure));
  StatusOr<Poco::JSON::Object::Ptr> object = Parsed<Poco::JSON::Object::Ptr>(out.data, "record");
  if (!object.ok()) return object.status();
  return RecordFrom(**object);
}

StatusOr<std::vector<QueueRecord>> SharedQueue::List(const std::string& status, uint32_t limit) {
  flx_buffer out;
  FLX_RETURN_IF_ERROR(Consume(
      iface().list(stage_->self, status.empty() ? nullptr : status.c_str(), limit, &out), nullptr));
  StatusOr<Poco::JSON::Array::Ptr> array = Parsed<Poco::JSON::Array::Ptr>(out.data, "listing");
  if (!array.ok()) return array.status();
  std::vector<QueueRecord> records;
  for (size_t i = 0; i < (*array)->size(); ++i) {
    Poco::JSON::Object::Ptr object = (*array)->getObject(static_cast<unsigned>(i));
    if (object) records.push_back(RecordFrom(*object));
  }
  return records;
}

Status SharedQueue::Cancel(const std::string& job_id, QueueFailure* failure) {
  return Consume(iface().cancel(stage_->self, job_id.c_str()), failure);
}

Status SharedQueue::AppendEvent(const std::string& job_id, const std::string& name,
                                const std::string& data) {
  return Consume(iface().append_event(stage_->self, job_id.c_str(), name.c_str(), data.c_str()),
                 nullptr);
}

StatusOr<std::vector<QueueEvent>> SharedQueue::ReadEvents(const std::string& job_id,
                                                          const std::string& after,
                                                          uint32_t wait_ms) {
  flx_buffer out;
  FLX_RETURN_IF_ERROR(Consume(
      iface().read_events(stage_->self, job_id.c_str(), after.c_str(), wait_ms, &out), nullptr));
  StatusOr<Poco::JSON::Array::Ptr> array = Parsed<Poco::JSON::Array::Ptr>(out.data, "events");
  if (!array.ok()) return array.status();
  std::vector<QueueEvent> events;
  for (size_t i = 0; i < (*array)->size(); ++i) {
    Poco::JSON::Object::Ptr object = (*array)->getObject(static_cast<unsigned>(i));
    if (!object) continue;
    events.push_back(QueueEvent{object->optValue<std::string>("id", ""),
                                object->optValue<std::string>("name", ""),
                                object->optValue<std::string>("data", "")});
  }
  return events;
}

StatusOr<std::optional<ClaimedJob>> SharedQueue::Claim(const std::string& model, uint32_t wait_ms) {
  flx_buffer out;
  FLX_RETURN_IF_ERROR(Consume(iface().claim(stage_->self, model.c_str(), wait_ms, &out), nullptr));
  if (out.data.empty()) return std::optional<ClaimedJob>();
  StatusOr<Poco::JSON::Object::Ptr> object = Parsed<Poco::JSON::Object::Ptr>(out.data, "claim");
  if (!object.ok()) return object.status();
  const QueueRecord claim = RecordFrom(**object);
  ClaimedJob job;
  job.job_id = claim.count("job_id") ? claim.at("job_id") : "";
  job.payload = claim.count("payload") ? claim.at("payload") : "";
  job.deliveries = claim.count("deliveries") ? std::atoi(claim.at("deliveries").c_str()) : 1;
  if (job.job_id.empty()) return Internal("the job queue claimed a job without a job_id");
  return std::optional<ClaimedJob>(std::move(job));
}

StatusOr<bool> SharedQueue::Update(const std::string& job_id, const QueueFields& fields) {
  const std::vector<flx_kv> kv = AsKeyValues(fields);
  int cancel_requested = 0;
  FLX_RETURN_IF_ERROR(
      Consume(iface().update(stage_->self, job_id.c_str(), kv.data(), kv.size(), &cancel_requested),
              nullptr));
  return cancel_requested != 0;
}

Status SharedQueue::Finish(const std::string& job_id, const QueueFields& fields) {
  const std::vector<flx_kv> kv = AsKeyValues(fields);
  return Consume(iface().finish(stage_->self, job_id.c_str(), kv.data(), kv.size()), nullptr);
}

Status SharedQueue::Check() { return Consume(iface().check(stage_->self), nullptr); }

std::string SharedQueue::Describe() {
  flx_buffer out;
  Status status = Consume(iface().describe(stage_->self, &out), nullptr);
  return status.ok() ? out.data : "{}";
}

}  // namespace flx
