// The host's side of a shared job queue without a queue: the record members a job is kept as
// (written by the front and the worker, read back by any replica), the worker's payload, and
// the HTTP errors the queue's failures become.
#include "http/shared_jobs.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "jobs/shared_job_record.h"

namespace flx {
namespace {

QueueRecord AsRecord(const QueueFields& fields) {
  QueueRecord record;
  for (const auto& [key, value] : fields) record[key] = value;
  return record;
}

TEST(SharedJobRecordTest, ASubmittedJobReadsBackQueuedWithItsShape) {
  const RunShape shape{"flux-schnell", 512, 256, 4, 2};
  QueueRecord record = AsRecord(SubmittedRecord("imgjob_1", shape, 1700000000.25));
  record["queue_position"] = "3";
  const JobSnapshot s = SnapshotFromRecord(record);
  EXPECT_EQ(s.id, "imgjob_1");
  EXPECT_EQ(s.model, "flux-schnell");
  EXPECT_EQ(s.status, JobStatus::kQueued);
  EXPECT_DOUBLE_EQ(s.created_at, 1700000000.25);
  EXPECT_FALSE(s.started_at.has_value());
  EXPECT_FALSE(s.cancel_requested);
  const RunShape back = ShapeFromRecord(record);
  EXPECT_EQ(back.model, "flux-schnell");
  EXPECT_EQ(back.width, 512u);
  EXPECT_EQ(back.height, 256u);
  EXPECT_EQ(back.steps, 4u);
  EXPECT_EQ(back.n, 2u);
  EXPECT_EQ(QueuePositionFromRecord(record), std::optional<size_t>(4)) << "3 ahead: 4th";
}

TEST(SharedJobRecordTest, ProgressAndTheEndRoundTrip) {
  JobSnapshot running;
  running.status = JobStatus::kRunning;
  running.step = 2;
  running.steps = 4;
  running.step_seconds = 1.5;
  running.started_at = 1700000001.0;
  QueueRecord record = AsRecord(ProgressRecord(running));
  JobSnapshot s = SnapshotFromRecord(record);
  EXPECT_EQ(s.status, JobStatus::kRunning);
  EXPECT_EQ(s.step, 2u);
  EXPECT_EQ(s.steps, 4u);
  EXPECT_DOUBLE_EQ(s.step_seconds, 1.5);
  EXPECT_EQ(s.started_at, std::optional<double>(1700000001.0));
  EXPECT_FALSE(QueuePositionFromRecord(record).has_value());

  JobSnapshot failed = running;
  failed.status = JobStatus::kFailed;
  failed.finished_at = 1700000002.0;
  failed.error_status = 500;
  failed.error_json = R"({"error":{"message":"boom"}})";
  s = SnapshotFromRecord(AsRecord(FinalRecord(failed)));
  EXPECT_EQ(s.status, JobStatus::kFailed);
  EXPECT_EQ(s.error_status, 500);
  EXPECT_EQ(s.error_json, failed.error_json);
  EXPECT_TRUE(s.response_json.empty());
  EXPECT_EQ(s.finished_at, std::optional<double>(1700000002.0));

  JobSnapshot succeeded = running;
  succeeded.status = JobStatus::kSucceeded;
  succeeded.response_json = R"({"data":[]})";
  s = SnapshotFromRecord(AsRecord(FinalRecord(succeeded)));
  EXPECT_EQ(s.status, JobStatus::kSucceeded);
  EXPECT_EQ(s.response_json, succeeded.response_json);
  EXPECT_TRUE(s.finished_at.has_value()) << "an end without a time is stamped now";
}

TEST(SharedJobRecordTest, MissingOrForeignMembersReadAsDefaults) {
  const JobSnapshot s = SnapshotFromRecord({{"status", "exploded"}, {"replica", "r1"}});
  EXPECT_EQ(s.status, JobStatus::kQueued);
  EXPECT_EQ(s.step, 0u);
  EXPECT_FALSE(s.finished_at.has_value());
}

TEST(SharedJobPayloadTest, RoundTripsBodySeedDeadlineAndBaseUrl) {
  const SharedJobPayload payload{R"({"prompt":"a \"quoted\" cat\n"})", 9007199254740991ull,
                                 1700000000.5, "http://front:8080"};
  const std::optional<SharedJobPayload> back = DecodePayload(EncodePayload(payload));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->body, payload.body);
  EXPECT_EQ(back->seed, payload.seed);
  EXPECT_DOUBLE_EQ(back->deadline, payload.deadline);
  EXPECT_EQ(back->base_url, payload.base_url);
  EXPECT_FALSE(DecodePayload("not json").has_value());
  EXPECT_FALSE(DecodePayload(R"({"seed":1})").has_value()) << "a payload without a body";
}

TEST(SharedQueueErrorTest, QueueFailuresBecomeTheirHttpErrors) {
  QueueFailure none;
  ApiError down = QueueError(Unavailable("Redis at redis://r:6379/0 is down"), none, "j");
  EXPECT_EQ(down.http_status, 503);
  EXPECT_EQ(down.code, "queue_unavailable");
  EXPECT_EQ(down.headers.at("Retry-After"), "1");
  EXPECT_NE(down.message.find("redis://r:6379/0"), std::string::npos);

  QueueFailure full;
  full.retry_after_ms = "2500";
  ApiError busy = QueueError(ResourceExhausted("full"), full, "j");
  EXPECT_EQ(busy.http_status, 429);
  EXPECT_EQ(busy.code, "queue_full");
  EXPECT_EQ(busy.headers.at("Retry-After"), "3");

  QueueFailure expired;
  expired.expired = true;
  EXPECT_EQ(QueueError(NotFound("gone"), expired, "j").code, "job_expired");
  EXPECT_EQ(QueueError(NotFound("gone"), none, "j").code, "job_not_found");
  EXPECT_EQ(QueueError(FailedPrecondition("ended"), none, "j").http_status, 409);
}

}  // namespace
}  // namespace flx
