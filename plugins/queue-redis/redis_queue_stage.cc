#include "redis_queue_stage.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <utility>
#include <vector>

#include "json_text.h"

namespace flx::redis {
namespace {

constexpr long long kIndexedJobs = 10000;  // the listing's reach: the newest job ids
constexpr const char* kEndedEvent = FLX_QUEUE_ENDED_EVENT;

JobFields ToJobFields(const flx::Queue::Fields& fields) {
  JobFields out;
  for (const auto& [key, value] : fields) out[key] = value;
  return out;
}

// The record as the host reads it: the internal stream entry id left out.
std::string RecordJson(JobFields fields, bool with_result) {
  fields.erase("entry");
  if (!with_result) {
    fields.erase("response");
    fields.erase("error");
  }
  return JsonObjectOfStrings(fields);
}

flx::Error NotFound(const std::string& job_id, bool expired) {
  flx::Error e(FLX_NOT_FOUND,
               expired ? "job '" + job_id + "' has ended and expired" : "no job '" + job_id + "'");
  if (expired) e.detail("expired", "true");
  return e;
}

std::string ErrorEnvelope(const std::string& message, const std::string& code) {
  return "{\"error\":{\"message\":" + JsonQuote(message) +
         ",\"type\":\"server_error\",\"param\":null,\"code\":" + JsonQuote(code) + "}}";
}

std::string NowText() {
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  return std::to_string(now.tv_sec) + "." + std::to_string(now.tv_nsec / 1000000);
}

}  // namespace

RedisQueueStage::RedisQueueStage(const flx::StageContext& context)
    : RedisQueueStage(ReadRedisQueueSettings(context.config,
                                             [](const std::string& name) {
                                               const char* value = std::getenv(name.c_str());
                                               return value ? std::optional<std::string>(value)
                                                            : std::nullopt;
                                             }),
                      context.host) {}

RedisQueueStage::RedisQueueStage(RedisQueueSettings settings, flx::Host host)
    : settings_(std::move(settings)),
      host_(host),
      pool_(settings_.url, settings_.timeout_s, settings_.max_connections) {}

template <class Work>
auto RedisQueueStage::WithRedis(Work&& work) {
  try {
    RedisClientPool::Lease client = pool_.Acquire();
    return work(*client);
  } catch (const RedisUnavailable& e) {
    throw flx::Error(FLX_UNAVAILABLE,
                     "the shared job queue cannot be reached: " + std::string(e.what()));
  }
}

void RedisQueueStage::ReportWaiting(const std::string& model, size_t waiting) const {
  flx_event event{};
  event.type = FLX_EVENT_GAUGE;
  event.name = FLX_GAUGE_SHARED_QUEUE_WAITING;
  event.model = model.c_str();
  event.value = static_cast<double>(waiting);
  host_.emit(event);
}

std::string RedisQueueStage::IndexKey() const { return settings_.queue.prefix + ":index"; }

int RedisQueueStage::BlockMs(uint32_t wait_ms) const {
  const long long cap = static_cast<long long>(settings_.timeout_s * 1000) / 2;
  return static_cast<int>(std::max<long long>(1, std::min<long long>(wait_ms, cap)));
}

void RedisQueueStage::submit(const std::string& job_id, const std::string& model,
                             const Fields& record, const std::string& payload) {
  WithRedis([&](RedisClient& client) {
    RedisJobQueue queue(client, settings_.queue);
    {
      const size_t waiting = queue.Waiting(model);
      ReportWaiting(model, waiting);
      if (settings_.max_queued > 0 && waiting >= settings_.max_queued) {
        throw flx::Error(
            FLX_RESOURCE_EXHAUSTED,
            "the shared queue of model '" + model + "' is full: " + std::to_string(waiting) +
                " jobs are waiting (max_queued = " + std::to_string(settings_.max_queued) + ")")
            .detail("retry_after_ms", "1000");
      }
    }
    RedisJobRecords records(client, settings_.records);
    JobFields fields = ToJobFields(record);
    fields["id"] = job_id;
    fields["model"] = model;
    if (!records.Create(job_id, fields)) {
      throw flx::Error(FLX_ALREADY_EXISTS, "a job '" + job_id + "' exists already");
    }
    try {
      records.Update(job_id, {{"entry", queue.Enqueue(model, job_id, payload)}});
    } catch (const std::runtime_error&) {
      records.Remove(job_id);  // not queued: no record may say it is
      throw;
    }
    const std::string created = fields.count("created_at") ? fields["created_at"] : NowText();
    client.Command({"ZADD", IndexKey(), created, job_id});
    client.Command({"ZREMRANGEBYRANK", IndexKey(), "0", std::to_string(-kIndexedJobs - 1)});
  });
}

std::string RedisQueueStage::get(const std::string& job_id) {
  return WithRedis([&](RedisClient& client) {
    RedisJobRecords records(client, settings_.records);
    bool expired = false;
    std::optional<JobFields> fields = records.Get(job_id, &expired);
    if (!fields) throw NotFound(job_id, expired);
    const auto entry = fields->find("entry");
    if ((*fields)["status"] == "queued" && entry != fields->end()) {
      RedisJobQueue queue(client, settings_.queue);
      (*fields)["queue_position"] = std::to_string(queue.Ahead((*fields)["model"], entry->second));
    }
    return RecordJson(*fields, /*with_result=*/true);
  });
}

std::string RedisQueueStage::list(const std::string& status, uint32_t limit) {
  return WithRedis([&](RedisClient& client) {
    RedisJobRecords records(client, settings_.records);
    const RedisReply ids =
        client.Command({"ZREVRANGE", IndexKey(), "0", std::to_string(kIndexedJobs - 1)});
    std::string out = "[";
    uint32_t listed = 0;
    for (const RedisReply& id : ids.elements) {
      if (listed >= limit) break;
      std::optional<JobFields> fields = records.Get(id.text);
      if (!fields) {
        client.Command({"ZREM", IndexKey(), id.text});  // expired
        continue;
      }
      if (!status.empty() && (*fields)["status"] != status) continue;
      out += (listed++ == 0 ? "" : ",") + RecordJson(*fields, /*with_result=*/false);
    }
    return out + "]";
  });
}

void RedisQueueStage::cancel(const std::string& job_id) {
  WithRedis([&](RedisClient& client) {
    RedisJobRecords records(client, settings_.records);
    switch (records.RequestCancel(job_id)) {
      case CancelOutcome::kRequested:
        return;
      case CancelOutcome::kAlreadyEnded: {
        std::optional<JobFields> fields = records.Get(job_id);
        const std::string status = fields ? (*fields)["status"] : "ended";
        throw flx::Error(FLX_FAILED_PRECONDITION, "job '" + job_id + "' has already " + status)
            .detail("status", status);
      }
      case CancelOutcome::kNotFound: {
        bool expired = false;
        records.Get(job_id, &expired);
        throw NotFound(job_id, expired);
      }
    }
  });
}

void RedisQueueStage::append_event(const std::string& job_id, const std::string& name,
                                   const std::string& data) {
  WithRedis([&](RedisClient& client) {
    RedisJobRecords(client, settings_.records).AppendEvent(job_id, name, data);
  });
}

std::string RedisQueueStage::read_events(const std::string& job_id, const std::string& after,
                                         uint32_t wait_ms) {
  return WithRedis([&](RedisClient& client) {
    RedisJobRecords records(client, settings_.records);
    const std::vector<StoredEvent> events =
        records.ReadEvents(job_id, after.empty() ? "0" : after, BlockMs(wait_ms));
    std::string out = "[";
    for (const StoredEvent& event : events) {
      out += (out.size() > 1 ? "," : "") +
             JsonObjectOfStrings(
                 JobFields{{"id", event.id}, {"name", event.name}, {"data", event.data}});
    }
    return out + "]";
  });
}

void RedisQueueStage::EndDeadLettered(RedisJobRecords& records, const QueuedJob& job) {
  const std::string message = "the job was delivered " + std::to_string(job.deliveries) +
                              " times without finishing (max_deliveries = " +
                              std::to_string(settings_.queue.max_deliveries) +
                              "): the replicas that took it stopped answering";
  records.End(job.job_id,
              {{"status", "failed"},
               {"finished_at", NowText()},
               {"error_status", "500"},
               {"error", ErrorEnvelope(message, "job_dead_lettered")}},
              kEndedEvent);
  host_.warn("job " + job.job_id + " of model " + job.model + " dead-lettered: " + message);
}

std::string RedisQueueStage::claim(const std::string& model, uint32_t wait_ms) {
  return WithRedis([&](RedisClient& client) -> std::string {
    RedisJobQueue queue(client, settings_.queue);
    RedisJobRecords records(client, settings_.records);
    std::vector<QueuedJob> dead;
    std::optional<QueuedJob> job = queue.Claim(model, settings_.replica, BlockMs(wait_ms), &dead);
    for (const QueuedJob& gone : dead) EndDeadLettered(records, gone);
    ReportWaiting(model, queue.Waiting(model));
    if (!job) return "";
    records.Update(job->job_id, {{"replica", settings_.replica},
                                 {"deliveries", std::to_string(job->deliveries)}});
    {
      std::lock_guard<std::mutex> lock(claimed_mutex_);
      claimed_[job->job_id] = *job;
    }
    return JsonObjectOfStrings(JobFields{{"job_id", job->job_id},
                                         {"payload", job->payload},
                                         {"deliveries", std::to_string(job->deliveries)}});
  });
}

bool RedisQueueStage::update(const std::string& job_id, const Fields& fields) {
  std::optional<QueuedJob> job;
  {
    std::lock_guard<std::mutex> lock(claimed_mutex_);
    const auto it = claimed_.find(job_id);
    if (it != claimed_.end()) job = it->second;
  }
  return WithRedis([&](RedisClient& client) {
    RedisJobRecords records(client, settings_.records);
    records.Update(job_id, ToJobFields(fields));
    if (job) RedisJobQueue(client, settings_.queue).Touch(*job, settings_.replica);
    const RedisReply cancel =
        client.Command({"HGET", records.RecordKey(job_id), "cancel_requested"});
    return cancel.text == "1";
  });
}

void RedisQueueStage::finish(const std::string& job_id, const Fields& fields) {
  std::optional<QueuedJob> job;
  {
    std::lock_guard<std::mutex> lock(claimed_mutex_);
    const auto it = claimed_.find(job_id);
    if (it != claimed_.end()) job = it->second;
  }
  WithRedis([&](RedisClient& client) {
    RedisJobRecords(client, settings_.records).End(job_id, ToJobFields(fields), kEndedEvent);
    if (job) RedisJobQueue(client, settings_.queue).Complete(*job);
  });
  std::lock_guard<std::mutex> lock(claimed_mutex_);
  claimed_.erase(job_id);
}

void RedisQueueStage::check() {
  WithRedis([&](RedisClient& client) {
    const RedisReply pong = client.Command({"PING"});
    if (pong.IsError()) {
      throw flx::Error(FLX_UNAVAILABLE,
                       "Redis at " + settings_.url.Display() + " refused PING: " + pong.text);
    }
  });
}

std::string RedisQueueStage::describe() {
  return "{\"type\":\"redis\",\"url\":" + JsonQuote(settings_.url.Display()) +
         ",\"prefix\":" + JsonQuote(settings_.queue.prefix) +
         ",\"replica\":" + JsonQuote(settings_.replica) +
         ",\"claim_after_s\":" + std::to_string(settings_.queue.claim_after_s) +
         ",\"max_deliveries\":" + std::to_string(settings_.queue.max_deliveries) +
         ",\"result_ttl_s\":" + std::to_string(settings_.records.result_ttl_s) +
         ",\"max_queued\":" + std::to_string(settings_.max_queued) + "}";
}

}  // namespace flx::redis
