#include "redis_job_queue.h"

#include <stdexcept>
#include <utility>

namespace flx::redis {
namespace {

constexpr const char kGroup[] = "workers";

// Redis answered with an error where none is expected: a bug or a foreign key of that name.
RedisReply Checked(RedisReply reply, const std::string& what) {
  if (reply.IsError()) throw std::runtime_error("Redis refused " + what + ": " + reply.text);
  return reply;
}

// One stream entry [id, [field, value, ...]] as a job of `model`; nullopt for a deleted one.
std::optional<QueuedJob> EntryToJob(const std::string& model, const RedisReply& entry) {
  if (entry.type != RedisReply::Type::kArray || entry.elements.size() != 2 ||
      entry.elements[1].type != RedisReply::Type::kArray) {
    return std::nullopt;
  }
  QueuedJob job;
  job.model = model;
  job.entry_id = entry.elements[0].text;
  const auto& fields = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].text == "job") job.job_id = fields[i + 1].text;
    if (fields[i].text == "payload") job.payload = fields[i + 1].text;
  }
  return job;
}

// Stream ids "<ms>-<seq>" in their order (as strings they sort wrongly: "5-10" < "5-9").
bool StreamIdLess(const std::string& a, const std::string& b) {
  const auto parse = [](const std::string& id) {
    const size_t dash = id.find('-');
    const unsigned long long ms = std::stoull(id.substr(0, dash));
    const unsigned long long seq = dash == std::string::npos ? 0 : std::stoull(id.substr(dash + 1));
    return std::make_pair(ms, seq);
  };
  return parse(a) < parse(b);
}

}  // namespace

RedisJobQueue::RedisJobQueue(RedisClient& client, QueueSettings settings)
    : client_(client), settings_(std::move(settings)) {}

std::string RedisJobQueue::StreamKey(const std::string& model) const {
  return settings_.prefix + ":jobs:" + model;
}

std::string RedisJobQueue::DeadKey(const std::string& model) const {
  return settings_.prefix + ":dead:" + model;
}

void RedisJobQueue::EnsureGroup(const std::string& model) {
  const RedisReply reply =
      client_.Command({"XGROUP", "CREATE", StreamKey(model), kGroup, "0", "MKSTREAM"});
  if (reply.IsError() && reply.text.rfind("BUSYGROUP", 0) != 0) {
    throw std::runtime_error("Redis refused XGROUP CREATE: " + reply.text);
  }
}

std::string RedisJobQueue::Enqueue(const std::string& model, const std::string& job_id,
                                   const std::string& payload) {
  EnsureGroup(model);
  return Checked(
             client_.Command({"XADD", StreamKey(model), "*", "job", job_id, "payload", payload}),
             "XADD")
      .text;
}

std::optional<QueuedJob> RedisJobQueue::Claim(const std::string& model, const std::string& consumer,
                                              int block_ms, std::vector<QueuedJob>* dead) {
  EnsureGroup(model);
  if (std::optional<QueuedJob> reclaimed = Reclaim(model, consumer, dead)) return reclaimed;
  return ReadNew(model, consumer, block_ms);
}

std::optional<QueuedJob> RedisJobQueue::Reclaim(const std::string& model,
                                                const std::string& consumer,
                                                std::vector<QueuedJob>* dead) {
  const std::string min_idle_ms =
      std::to_string(static_cast<long long>(settings_.claim_after_s * 1000));
  // One at a time: a claimed job belongs to this consumer until it completes or idles again.
  for (;;) {
    const RedisReply reply = Checked(client_.Command({"XAUTOCLAIM", StreamKey(model), kGroup,
                                                      consumer, min_idle_ms, "0-0", "COUNT", "1"}),
                                     "XAUTOCLAIM");
    if (reply.elements.size() < 2 || reply.elements[1].elements.empty()) return std::nullopt;
    std::optional<QueuedJob> job = EntryToJob(model, reply.elements[1].elements[0]);
    if (!job) return std::nullopt;
    job->deliveries = Deliveries(model, job->entry_id);
    if (job->deliveries <= settings_.max_deliveries) return job;
    DeadLetter(*job, "delivered " + std::to_string(job->deliveries) + " times");
    if (dead != nullptr) dead->push_back(*job);
  }
}

std::optional<QueuedJob> RedisJobQueue::ReadNew(const std::string& model,
                                                const std::string& consumer, int block_ms) {
  const RedisReply reply =
      Checked(client_.Command({"XREADGROUP", "GROUP", kGroup, consumer, "COUNT", "1", "BLOCK",
                               std::to_string(block_ms), "STREAMS", StreamKey(model), ">"}),
              "XREADGROUP");
  // [[stream, [[id, fields]]]] or nil after the block.
  if (reply.IsNil() || reply.elements.empty()) return std::nullopt;
  const RedisReply& entries = reply.elements[0].elements.at(1);
  if (entries.elements.empty()) return std::nullopt;
  return EntryToJob(model, entries.elements[0]);
}

int RedisJobQueue::Deliveries(const std::string& model, const std::string& entry_id) {
  // XPENDING key group start end count -> [[id, consumer, idle_ms, deliveries]]
  const RedisReply reply = Checked(
      client_.Command({"XPENDING", StreamKey(model), kGroup, entry_id, entry_id, "1"}), "XPENDING");
  if (reply.elements.empty() || reply.elements[0].elements.size() < 4) return 1;
  return static_cast<int>(reply.elements[0].elements[3].integer);
}

void RedisJobQueue::DeadLetter(const QueuedJob& job, const std::string& why) {
  Checked(client_.Command({"XADD", DeadKey(job.model), "*", "job", job.job_id, "payload",
                           job.payload, "why", why}),
          "XADD (dead letter)");
  Complete(job);
}

void RedisJobQueue::Complete(const QueuedJob& job) {
  Checked(client_.Command({"XACK", StreamKey(job.model), kGroup, job.entry_id}), "XACK");
  Checked(client_.Command({"XDEL", StreamKey(job.model), job.entry_id}), "XDEL");
}

void RedisJobQueue::Touch(const QueuedJob& job, const std::string& consumer) {
  // XCLAIM to its own consumer with min-idle 0 resets the idle time; JUSTID leaves the
  // delivery count alone.
  Checked(client_.Command({"XCLAIM", StreamKey(job.model), kGroup, consumer, "0", job.entry_id,
                           "JUSTID"}),
          "XCLAIM");
}

std::string RedisJobQueue::LastDelivered(const std::string& model) {
  // XINFO GROUPS key -> [[name, workers, consumers, n, pending, n, last-delivered-id, id, ...]]
  const RedisReply reply = Checked(client_.Command({"XINFO", "GROUPS", StreamKey(model)}), "XINFO");
  for (const RedisReply& group : reply.elements) {
    std::string name;
    std::string last = "0-0";
    for (size_t i = 0; i + 1 < group.elements.size(); i += 2) {
      if (group.elements[i].text == "name") name = group.elements[i + 1].text;
      if (group.elements[i].text == "last-delivered-id") last = group.elements[i + 1].text;
    }
    if (name == kGroup) return last;
  }
  return "0-0";
}

size_t RedisJobQueue::Ahead(const std::string& model, const std::string& entry_id) {
  EnsureGroup(model);
  const std::string last = LastDelivered(model);
  if (!StreamIdLess(last, entry_id)) return 0;  // already delivered
  const RedisReply reply =
      Checked(client_.Command({"XRANGE", StreamKey(model), "(" + last, "(" + entry_id}), "XRANGE");
  return reply.elements.size();
}

size_t RedisJobQueue::Waiting(const std::string& model) {
  EnsureGroup(model);
  const RedisReply reply = Checked(
      client_.Command({"XRANGE", StreamKey(model), "(" + LastDelivered(model), "+"}), "XRANGE");
  return reply.elements.size();
}

size_t RedisJobQueue::DeadLettered(const std::string& model) {
  return static_cast<size_t>(Checked(client_.Command({"XLEN", DeadKey(model)}), "XLEN").integer);
}

}  // namespace flx::redis
