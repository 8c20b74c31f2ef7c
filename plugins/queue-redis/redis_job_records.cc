#include "redis_job_records.h"

#include <stdexcept>

namespace flx::redis {
namespace {

RedisReply Checked(RedisReply reply, const std::string& what) {
  if (reply.IsError()) throw std::runtime_error("Redis refused " + what + ": " + reply.text);
  return reply;
}

// Sets cancel_requested unless the job has ended; 1 requested, 0 ended, -1 no such record.
constexpr const char kCancelScript[] = R"(
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'succeeded' or status == 'failed' or status == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'cancel_requested', '1')
return 1
)";

}  // namespace

RedisJobRecords::RedisJobRecords(RedisClient& client, RecordSettings settings)
    : client_(client), settings_(std::move(settings)) {}

std::string RedisJobRecords::RecordKey(const std::string& id) const {
  return settings_.prefix + ":job:" + id;
}
std::string RedisJobRecords::EventsKey(const std::string& id) const {
  return settings_.prefix + ":events:" + id;
}
std::string RedisJobRecords::TombstoneKey(const std::string& id) const {
  return settings_.prefix + ":gone:" + id;
}

void RedisJobRecords::SetFields(const std::string& id, const JobFields& fields) {
  if (fields.empty()) return;
  std::vector<std::string> argv = {"HSET", RecordKey(id)};
  for (const auto& [key, value] : fields) {
    argv.push_back(key);
    argv.push_back(value);
  }
  Checked(client_.Command(argv), "HSET");
}

bool RedisJobRecords::Create(const std::string& id, const JobFields& fields) {
  // HSETNX claims the record: of two creations of one id, one wins.
  if (Checked(client_.Command({"HSETNX", RecordKey(id), "id", id}), "HSETNX").integer == 0) {
    return false;
  }
  JobFields initial = fields;
  initial.emplace("status", "queued");
  SetFields(id, initial);
  return true;
}

void RedisJobRecords::Remove(const std::string& id) {
  Checked(client_.Command({"DEL", RecordKey(id), EventsKey(id)}), "DEL");
}

void RedisJobRecords::Update(const std::string& id, const JobFields& fields) {
  SetFields(id, fields);
}

void RedisJobRecords::End(const std::string& id, const JobFields& fields,
                          const std::string& last_event) {
  SetFields(id, fields);
  // After the fields (a reader that sees the event finds the record ended), before the TTLs
  // (an events stream created by this XADD expires too).
  if (!last_event.empty()) AppendEvent(id, last_event, "{}");
  const auto ttl_ms = std::to_string(static_cast<long long>(settings_.result_ttl_s * 1000));
  const auto tombstone_ms = std::to_string(static_cast<long long>(settings_.result_ttl_s * 5000));
  Checked(client_.Command({"PEXPIRE", RecordKey(id), ttl_ms}), "PEXPIRE");
  Checked(client_.Command({"PEXPIRE", EventsKey(id), ttl_ms}), "PEXPIRE");
  Checked(client_.Command({"SET", TombstoneKey(id), "1", "PX", tombstone_ms}), "SET");
}

std::optional<JobFields> RedisJobRecords::Get(const std::string& id, bool* expired) {
  const RedisReply reply = Checked(client_.Command({"HGETALL", RecordKey(id)}), "HGETALL");
  if (expired != nullptr) *expired = false;
  if (reply.elements.empty()) {
    if (expired != nullptr) {
      *expired = client_.Command({"EXISTS", TombstoneKey(id)}).integer == 1;
    }
    return std::nullopt;
  }
  JobFields fields;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    fields[reply.elements[i].text] = reply.elements[i + 1].text;
  }
  return fields;
}

CancelOutcome RedisJobRecords::RequestCancel(const std::string& id) {
  const RedisReply reply =
      Checked(client_.Command({"EVAL", kCancelScript, "1", RecordKey(id)}), "EVAL");
  if (reply.integer < 0) return CancelOutcome::kNotFound;
  return reply.integer == 0 ? CancelOutcome::kAlreadyEnded : CancelOutcome::kRequested;
}

void RedisJobRecords::AppendEvent(const std::string& id, const std::string& name,
                                  const std::string& data) {
  Checked(client_.Command({"XADD", EventsKey(id), "MAXLEN", "~",
                           std::to_string(settings_.max_events), "*", "event", name, "data", data}),
          "XADD");
}

std::vector<StoredEvent> RedisJobRecords::ReadEvents(const std::string& id,
                                                     const std::string& after, int block_ms) {
  const RedisReply reply = Checked(client_.Command({"XREAD", "BLOCK", std::to_string(block_ms),
                                                    "STREAMS", EventsKey(id), after}),
                                   "XREAD");
  std::vector<StoredEvent> events;
  if (reply.IsNil() || reply.elements.empty()) return events;
  for (const RedisReply& entry : reply.elements[0].elements.at(1).elements) {
    StoredEvent event;
    event.id = entry.elements.at(0).text;
    const auto& fields = entry.elements.at(1).elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].text == "event") event.name = fields[i + 1].text;
      if (fields[i].text == "data") event.data = fields[i + 1].text;
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace flx::redis
