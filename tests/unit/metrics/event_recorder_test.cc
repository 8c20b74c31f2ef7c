#include "event_recorder.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace flx::metrics {
namespace {

// Every sample line of an exposition, keyed by everything before the value.
std::map<std::string, double> Samples(const std::string& exposition) {
  std::map<std::string, double> out;
  size_t start = 0;
  while (start < exposition.size()) {
    size_t end = exposition.find('\n', start);
    std::string line = exposition.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// The value of `series`, failing the test (with the exposition) when it is missing.
double Value(const std::string& exposition, const std::string& series) {
  auto samples = Samples(exposition);
  auto it = samples.find(series);
  if (it == samples.end()) {
    ADD_FAILURE() << "no sample " << series << " in:\n" << exposition;
    return -1;
  }
  return it->second;
}

bool Has(const std::string& exposition, const std::string& series) {
  return Samples(exposition).count(series) > 0;
}

flx_event Event(flx_event_type type, const char* model, const char* request_id, double value = 0) {
  flx_event e{};
  e.struct_size = sizeof(e);
  e.type = type;
  e.model = model;
  e.request_id = request_id;
  e.stage_id = "stage";
  e.value = value;
  return e;
}

flx_event Named(flx_event_type type, const char* model, const char* request_id, const char* name,
                double value = 0) {
  flx_event e = Event(type, model, request_id, value);
  e.name = name;
  return e;
}

flx_event Completed(const char* model, const char* request_id, int32_t status, double seconds,
                    uint32_t images, const char* error_code = nullptr) {
  flx_event e = Named(FLX_EVENT_COMPLETED, model, request_id, error_code, seconds);
  e.code = status;
  e.step = images;
  return e;
}

flx_event Gauge(const char* stage, const char* name, double value) {
  flx_event e = Named(FLX_EVENT_GAUGE, nullptr, nullptr, name, value);
  e.stage_id = stage;
  return e;
}

MetricsSettings Settings(size_t window = 50, std::vector<double> buckets = {0.5, 1, 5}) {
  MetricsSettings s;
  s.rolling_window = window;
  s.duration_buckets = std::move(buckets);
  return s;
}

EventRecorder Recorder(const MetricsSettings& settings = Settings()) {
  return EventRecorder(settings, BuildInfo{"1.2.3", "1.0"}, [] { return 4096.0; });
}

TEST(EventRecorderTest, ARequestsEventsBecomeSeries) {
  EventRecorder r = Recorder();
  r.Observe(Event(FLX_EVENT_QUEUED, "m", "r1", 1));
  r.Observe(Event(FLX_EVENT_ADMITTED, "m", "r1", 0.75));
  r.Observe(Event(FLX_EVENT_STARTED, "m", "r1"));
  r.Observe(Named(FLX_EVENT_PHASE, "m", "r1", "text_encode", 0.25));
  for (int i = 0; i < 3; ++i) r.Observe(Event(FLX_EVENT_STEP, "m", "r1", 0.25));
  r.Observe(Named(FLX_EVENT_PHASE, "m", "r1", "denoise", 0.75));
  r.Observe(Named(FLX_EVENT_PHASE, "m", "r1", "vae_decode", 2));
  r.Observe(Named(FLX_EVENT_PHASE, "m", "r1", "image_encode", 0.125));
  r.Observe(Completed("m", "r1", 200, 4, 2));
  std::string text = r.Exposition();

  EXPECT_EQ(Value(text, "fluxserve_requests_total{model=\"m\",status=\"200\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_images_total{model=\"m\"}"), 2);
  EXPECT_EQ(Value(text, "fluxserve_oom_total{model=\"m\"}"), 0) << "created at 0";
  EXPECT_EQ(Value(text, "fluxserve_request_duration_seconds_sum{model=\"m\"}"), 4);
  EXPECT_EQ(Value(text, "fluxserve_request_duration_seconds_bucket{model=\"m\",le=\"1\"}"), 0);
  EXPECT_EQ(Value(text, "fluxserve_request_duration_seconds_bucket{model=\"m\",le=\"5\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_queue_wait_seconds_count{model=\"m\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_queue_wait_seconds_sum{model=\"m\"}"), 0.75);
  EXPECT_EQ(Value(text, "fluxserve_step_seconds_count{model=\"m\"}"), 3);
  EXPECT_EQ(Value(text, "fluxserve_step_seconds_bucket{model=\"m\",le=\"0.5\"}"), 3);
  struct Phase {
    const char* name;
    double seconds;
  };
  for (const Phase& p : {Phase{"text_encode", 0.25}, Phase{"denoise", 0.75}, Phase{"vae_decode", 2},
                         Phase{"image_encode", 0.125}}) {
    std::string labels = std::string("{model=\"m\",phase=\"") + p.name + "\"}";
    EXPECT_EQ(Value(text, "fluxserve_phase_seconds_count" + labels), 1) << p.name;
    EXPECT_EQ(Value(text, "fluxserve_phase_seconds_sum" + labels), p.seconds) << p.name;
  }
  EXPECT_FALSE(Has(text, "fluxserve_phase_seconds_count{model=\"m\",phase=\"save\"}"))
      << "no save phase was reported";

  EXPECT_EQ(r.DescribeModel("m"),
            "{\"window\":50,\"requests\":1,\"avg_total_s\":4,\"avg_queue_s\":0.75,"
            "\"avg_step_s\":0.25,\"avg_denoise_s\":0.75,\"avg_vae_decode_s\":2,"
            "\"error_rate\":0}");
}

TEST(EventRecorderTest, FailuresRejectionsAndFallbacksAreCounted) {
  EventRecorder r = Recorder();
  r.Observe(Event(FLX_EVENT_OOM, "m", "r1"));
  r.Observe(Named(FLX_EVENT_FALLBACK, "m", "r1", "attention_slicing"));
  r.Observe(Event(FLX_EVENT_OOM, "m", "r1"));
  r.Observe(Named(FLX_EVENT_FALLBACK, "m", "r1", "vae_tiling"));
  r.Observe(Completed("m", "r1", 500, 9, 0, "out_of_memory"));
  r.Observe(Named(FLX_EVENT_REJECTED, "m", "r2", "queue_full"));
  r.Observe(Completed("m", "r2", 429, 0.001, 0, "queue_full"));
  r.Observe(Completed(nullptr, "r3", 400, 0.001, 0, "invalid_request"));
  std::string text = r.Exposition();

  EXPECT_EQ(Value(text, "fluxserve_oom_total{model=\"m\"}"), 2);
  EXPECT_EQ(Value(text, "fluxserve_fallbacks_total{model=\"m\",rung=\"attention_slicing\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_fallbacks_total{model=\"m\",rung=\"vae_tiling\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_rejections_total{model=\"m\",reason=\"queue_full\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_requests_total{model=\"m\",status=\"500\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_requests_total{model=\"m\",status=\"429\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_requests_total{model=\"\",status=\"400\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_images_total{model=\"m\"}"), 0);
  EXPECT_FALSE(Has(text, "fluxserve_images_total{model=\"\"}"))
      << "a request without a model makes no image series";
  EXPECT_EQ(Value(text, "fluxserve_request_duration_seconds_count{model=\"\"}"), 1);

  EXPECT_EQ(r.DescribeModel("m"),
            "{\"window\":50,\"requests\":2,\"avg_total_s\":null,\"avg_queue_s\":null,"
            "\"avg_step_s\":null,\"avg_denoise_s\":null,\"avg_vae_decode_s\":null,"
            "\"error_rate\":1}");
}

TEST(EventRecorderTest, JobsReplaysCancellationsAndDeadlinesAreCounted) {
  EventRecorder r = Recorder();
  flx_event succeeded = Named(FLX_EVENT_JOB_ENDED, "m", "j1", "succeeded", 2.0);
  succeeded.code = 200;
  r.Observe(succeeded);
  r.Observe(Completed("m", "j2", 499, 0.5, 0, "cancelled"));
  flx_event cancelled = Named(FLX_EVENT_JOB_ENDED, "m", "j2", "cancelled", 0);  // never ran
  cancelled.code = 499;
  r.Observe(cancelled);
  r.Observe(Completed("m", "r3", 504, 1.0, 0, "deadline_exceeded"));
  r.Observe(Event(FLX_EVENT_REPLAYED, "m", "j1"));
  r.Observe(Event(FLX_EVENT_REPLAYED, "m", "j1"));
  const std::string text = r.Exposition();
  EXPECT_EQ(Value(text, "fluxserve_jobs_total{model=\"m\",status=\"succeeded\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_jobs_total{model=\"m\",status=\"cancelled\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_job_run_seconds_count{model=\"m\"}"), 1) << "ran jobs only";
  EXPECT_EQ(Value(text, "fluxserve_job_run_seconds_sum{model=\"m\"}"), 2.0);
  EXPECT_EQ(Value(text, "fluxserve_idempotent_replays_total{model=\"m\"}"), 2);
  EXPECT_EQ(Value(text, "fluxserve_cancellations_total{model=\"m\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_deadline_exceeded_total{model=\"m\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_requests_total{model=\"m\",status=\"504\"}"), 1);
}

TEST(EventRecorderTest, GaugesAreKeptPerStageAndUnknownGaugesIgnored) {
  EventRecorder r = Recorder();
  r.Observe(Gauge("queue", "queue_depth", 3));
  r.Observe(Gauge("queue", "queue_depth", 2));
  r.Observe(Gauge("queue", "in_flight", 1));
  r.Observe(Gauge("other_queue", "in_flight", 4));
  r.Observe(Gauge("pipe", "model_ready", 1));
  r.Observe(Gauge("pipe", "weights_bytes", 23800000000.0));
  r.Observe(Gauge("pipe", "temperature", 70));
  std::string text = r.Exposition();

  EXPECT_EQ(Value(text, "fluxserve_queue_depth{stage=\"queue\"}"), 2);
  EXPECT_EQ(Value(text, "fluxserve_in_flight{stage=\"queue\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_in_flight{stage=\"other_queue\"}"), 4);
  EXPECT_EQ(Value(text, "fluxserve_model_ready{stage=\"pipe\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_weights_bytes{stage=\"pipe\"}"), 23800000000.0);
  EXPECT_EQ(text.find("temperature"), std::string::npos) << text;
}

// The shared queue's waiting jobs are per model (every replica reports the same queue).
TEST(EventRecorderTest, SharedQueueWaitingIsKeptPerModel) {
  EventRecorder r = Recorder();
  flx_event waiting = Gauge("shared", "shared_queue_waiting", 7);
  waiting.model = "flux-schnell";
  r.Observe(waiting);
  waiting.value = 5;
  r.Observe(waiting);
  flx_event no_model = Gauge("shared", "shared_queue_waiting", 9);
  r.Observe(no_model);  // without a model it says nothing
  const std::string text = r.Exposition();
  EXPECT_EQ(Value(text, "fluxserve_shared_queue_waiting{model=\"flux-schnell\"}"), 5);
  EXPECT_EQ(text.find("shared_queue_waiting{model=\"\"}"), std::string::npos) << text;
}

TEST(EventRecorderTest, BuildInfoAndResidentMemory) {
  EventRecorder r = Recorder();
  std::string text = r.Exposition();
  EXPECT_EQ(Value(text, "fluxserve_build_info{version=\"1.2.3\",abi=\"1.0\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_process_resident_memory_bytes"), 4096);

  EventRecorder unknown(Settings(), BuildInfo{"1", "1.0"}, [] { return std::nullopt; });
  std::string without = unknown.Exposition();
  EXPECT_NE(without.find("# TYPE fluxserve_process_resident_memory_bytes gauge\n"),
            std::string::npos);
  EXPECT_FALSE(Has(without, "fluxserve_process_resident_memory_bytes"));
}

TEST(EventRecorderTest, EveryFamilyHasHelpAndTypeBeforeItsSamples) {
  EventRecorder r = Recorder();
  r.Observe(Completed("m", "r1", 200, 1, 1));
  std::string text = r.Exposition();
  const char* families[] = {"fluxserve_build_info",
                            "fluxserve_requests_total",
                            "fluxserve_images_total",
                            "fluxserve_rejections_total",
                            "fluxserve_oom_total",
                            "fluxserve_fallbacks_total",
                            "fluxserve_request_duration_seconds",
                            "fluxserve_queue_wait_seconds",
                            "fluxserve_phase_seconds",
                            "fluxserve_step_seconds",
                            "fluxserve_queue_depth",
                            "fluxserve_in_flight",
                            "fluxserve_model_ready",
                            "fluxserve_weights_bytes",
                            "fluxserve_shared_queue_waiting",
                            "fluxserve_process_resident_memory_bytes"};
  for (const char* family : families) {
    size_t help = text.find(std::string("# HELP ") + family + " ");
    size_t type = text.find(std::string("# TYPE ") + family + " ");
    EXPECT_NE(help, std::string::npos) << family;
    EXPECT_NE(type, std::string::npos) << family;
    EXPECT_LT(help, type) << family;
  }
}

TEST(EventRecorderTest, RollingWindowIsPerModel) {
  EventRecorder r = Recorder(Settings(/*window=*/2));
  r.Observe(Completed("a", "1", 200, 10, 1));
  r.Observe(Completed("a", "2", 200, 2, 1));
  r.Observe(Completed("a", "3", 500, 1, 0));
  r.Observe(Completed("b", "4", 200, 8, 1));
  EXPECT_EQ(r.DescribeModel("a"),
            "{\"window\":2,\"requests\":2,\"avg_total_s\":2,\"avg_queue_s\":null,"
            "\"avg_step_s\":null,\"avg_denoise_s\":null,\"avg_vae_decode_s\":null,"
            "\"error_rate\":0.5}");
  EXPECT_EQ(r.DescribeModel("b"),
            "{\"window\":2,\"requests\":1,\"avg_total_s\":8,\"avg_queue_s\":null,"
            "\"avg_step_s\":null,\"avg_denoise_s\":null,\"avg_vae_decode_s\":null,"
            "\"error_rate\":0}");
  EXPECT_EQ(r.DescribeModel("never-seen"),
            "{\"window\":2,\"requests\":0,\"avg_total_s\":null,\"avg_queue_s\":null,"
            "\"avg_step_s\":null,\"avg_denoise_s\":null,\"avg_vae_decode_s\":null,"
            "\"error_rate\":null}");
}

TEST(EventRecorderTest, RetriedPhasesAreSummedPerRequest) {
  EventRecorder r = Recorder();
  r.Observe(Named(FLX_EVENT_PHASE, "m", "r1", "denoise", 1));
  r.Observe(Event(FLX_EVENT_OOM, "m", "r1"));
  r.Observe(Named(FLX_EVENT_PHASE, "m", "r1", "denoise", 0.5));
  r.Observe(Completed("m", "r1", 200, 2, 1));
  EXPECT_NE(r.DescribeModel("m").find("\"avg_denoise_s\":1.5"), std::string::npos)
      << r.DescribeModel("m");
}

TEST(EventRecorderTest, CustomBucketsShapeEveryHistogram) {
  EventRecorder r = Recorder(Settings(50, {2}));
  r.Observe(Completed("m", "r1", 200, 1, 1));
  std::string text = r.Exposition();
  EXPECT_EQ(Value(text, "fluxserve_request_duration_seconds_bucket{model=\"m\",le=\"2\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_request_duration_seconds_bucket{model=\"m\",le=\"+Inf\"}"), 1);
  EXPECT_EQ(text.find("le=\"0.5\""), std::string::npos) << text;
}

TEST(EventRecorderTest, AShortEventIsReadOnlyUpToItsStructSize) {
  EventRecorder r = Recorder();
  flx_event e = Completed("m", "r1", 200, 3, 1);
  e.struct_size = offsetof(flx_event, value);  // an older, shorter struct: no value, step, code
  r.Observe(e);
  std::string text = r.Exposition();
  EXPECT_EQ(Value(text, "fluxserve_requests_total{model=\"m\",status=\"0\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_request_duration_seconds_sum{model=\"m\"}"), 0);
  EXPECT_EQ(Value(text, "fluxserve_images_total{model=\"m\"}"), 0);
}

TEST(EventRecorderTest, EventsWithNullStringsAreAccepted) {
  EventRecorder r = Recorder();
  flx_event e{};
  e.struct_size = sizeof(e);
  for (flx_event_type type : {FLX_EVENT_QUEUED, FLX_EVENT_ADMITTED, FLX_EVENT_STARTED,
                              FLX_EVENT_STEP, FLX_EVENT_PHASE, FLX_EVENT_OOM, FLX_EVENT_FALLBACK,
                              FLX_EVENT_COMPLETED, FLX_EVENT_REJECTED, FLX_EVENT_GAUGE}) {
    e.type = type;
    r.Observe(e);
  }
  std::string text = r.Exposition();
  EXPECT_EQ(Value(text, "fluxserve_requests_total{model=\"\",status=\"0\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_oom_total{model=\"\"}"), 1);
  EXPECT_EQ(Value(text, "fluxserve_fallbacks_total{model=\"\",rung=\"\"}"), 1);
  EXPECT_FALSE(Has(text, "fluxserve_phase_seconds_count{model=\"\",phase=\"\"}"))
      << "a phase without a name is dropped";
}

TEST(EventRecorderTest, UncompletedRequestsAreForgottenOldestFirst) {
  EventRecorder r = Recorder();
  r.Observe(Event(FLX_EVENT_ADMITTED, "m", "first", 7));
  for (size_t i = 0; i < kMaxPendingRequests; ++i) {
    r.Observe(Event(FLX_EVENT_ADMITTED, "m", ("r" + std::to_string(i)).c_str(), 1));
  }
  r.Observe(Completed("m", "first", 200, 1, 1));
  r.Observe(Completed("m", ("r" + std::to_string(kMaxPendingRequests - 1)).c_str(), 200, 1, 1));
  // "first" was evicted, so only the newest request's queue wait is averaged.
  EXPECT_NE(r.DescribeModel("m").find("\"avg_queue_s\":1,"), std::string::npos)
      << r.DescribeModel("m");
}

TEST(EventRecorderTest, ConcurrentObserversLoseNothing) {
  EventRecorder r = Recorder();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        r.Observe(Event(FLX_EVENT_STEP, "m", id.c_str(), 0.1));
        r.Observe(Completed("m", id.c_str(), 200, 1, 1));
        if (i % 100 == 0) r.Exposition();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string text = r.Exposition();
  EXPECT_EQ(Value(text, "fluxserve_requests_total{model=\"m\",status=\"200\"}"),
            kThreads * kPerThread);
  EXPECT_EQ(Value(text, "fluxserve_step_seconds_count{model=\"m\"}"), kThreads * kPerThread);
}

TEST(EventRecorderTest, InvalidSettingsAreRejected) {
  EXPECT_THROW(Recorder(Settings(0)), std::invalid_argument);
  EXPECT_THROW(Recorder(Settings(50, {})), std::invalid_argument);
}

}  // namespace
}  // namespace flx::metrics
