// A real out-of-memory on the CPU. A `fluxserve serve` child, its address space limited
// (RLIMIT_AS) to a little more than a small generation was measured to need, is asked for a
// 2048x2048 image: the CPU allocator fails, the flux stage reports RESOURCE_EXHAUSTED, the
// recovery ladder halves the resolution until the image fits, and the server stays up for the
// next request.
//
// The limit is calibrated, not guessed: libtorch, OpenMP and glibc reserve address space the
// process never touches (thread stacks, malloc arenas, mapped weights), so VmSize is far above
// the resident size and differs between machines. A first child without a limit serves one
// small request and its VmPeak is read; the limited child gets that plus kMargin. When that
// cannot work here (/proc unreadable, the limit above the memory available, the limit not
// binding) the test is skipped with the numbers, never failed.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "support/child_server.h"
#include "flux_test_support.h"

namespace flx::test {
namespace {

constexpr const char* kGenerations = "/v1/images/generations";
constexpr int kSmallSide = 256;
constexpr int kLargeSide = 2048;
// Room above the small run's peak for what may differ between two runs (a malloc arena or a
// thread stack more). With the demo model 2048x2048 needs a 2.2 GB attention score tensor and
// 1024x1024 a 151 MB one on top of a larger decode, so both fail; 512x512 needs about 195 MiB
// more than 256x256 at its peak, so it fits or not depending on how much of the small run's
// peak was a start-up transient (on the development machine it fits: 2048 -> 1024 -> 512).
// Room above the calibrated peak for what varies between runs (threads, their stacks and
// malloc arenas under a loaded machine). The large request needs gigabytes more, so the
// limit still binds.
constexpr uint64_t kMargin = uint64_t{512} << 20;
constexpr double kReadyTimeoutS = 60;

std::string MiB(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// MemAvailable from /proc/meminfo in bytes; 0 when unknown.
uint64_t MemAvailable() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

std::string Request(int side) {
  return R"({"prompt":"a lighthouse on a cliff","steps":2,"seed":5,"size":")" +
         std::to_string(side) + "x" + std::to_string(side) + "\"}";
}

Poco::JSON::Object::Ptr ParseObject(const std::string& text) {
  try {
    return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string GraphYaml(const std::string& plugin_dir, const std::string& model) {
  return "version: 1\n"
         "server: {threads: 4}\n"
         "plugin_paths: [\"" +
         plugin_dir +
         "\"]\n"
         "stages:\n"
         "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo,\n"
         "     config: {max_concurrent: 1, max_queue: 4}}\n"
         "  - {id: oom, kind: recovery, library: flx_recovery, type: ladder,\n"
         "     config: {ladder: [{resolution: half, min_side: 64}, {resolution: half, min_side: "
         "64},\n"
         "                       {resolution: half, min_side: 64}, {resolution: half, min_side: "
         "64}]}}\n"
         "  - {id: flux, kind: pipeline, library: flx_pipeline_flux, type: flux,\n"
         "     config: {model: \"" +
         model +
         "\", threads: 2, default_width: 256, default_height: 256}}\n"
         "models:\n"
         "  flux-demo: [queue, oom, flux]\n";
}

TEST(FluxRealOutOfMemoryTest, ATooLargeRequestIsServedSmallerAndTheServerSurvives) {
  const auto started = std::chrono::steady_clock::now();
  const std::string fluxserve = BuildProgram("fluxserve");
  const char* plugin_dir = std::getenv("FLX_PLUGIN_DIR");
  ASSERT_FALSE(fluxserve.empty()) << "FLX_BIN_DIR is not set (run through ctest)";
  ASSERT_NE(plugin_dir, nullptr) << "FLX_PLUGIN_DIR is not set (run through ctest)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string model = dir.path() + "/demo";
  ASSERT_EQ(MakeDemoModel(model), "");
  // glibc reserves a 64 MiB arena per thread that allocates concurrently, so the address space
  // a server maps depends on how threads happen to overlap. Two arenas make it repeatable.
  ::setenv("MALLOC_ARENA_MAX", "2", 1);
  const std::string config = dir.path() + "/graph.yaml";
  std::ofstream(config) << GraphYaml(plugin_dir, model);

  // Calibration: what a small generation maps at most.
  ProcessMemory small;
  {
    std::string why;
    auto child =
        ChildServer::Start(fluxserve, config, dir.path(), std::nullopt, kReadyTimeoutS, &why);
    ASSERT_NE(child, nullptr) << why;
    const ChildResponse r = child->Post(kGenerations, Request(kSmallSide));
    ASSERT_EQ(r.status, 200) << r.error << r.body << "\nlog:\n" << child->Log();
    small = child->Memory();
  }
  if (small.vm_peak == 0) GTEST_SKIP() << "VmPeak is not readable from /proc/<pid>/status";
  const uint64_t limit = small.vm_peak + kMargin;
  const uint64_t available = MemAvailable();
  std::ostringstream numbers;
  numbers << "small run (" << kSmallSide << "x" << kSmallSide << ", 2 steps): VmPeak "
          << MiB(small.vm_peak) << ", VmSize " << MiB(small.vm_size) << ", VmHWM "
          << MiB(small.vm_hwm) << "; RLIMIT_AS " << MiB(limit) << " (" << limit
          << " bytes); MemAvailable " << MiB(available);
  std::cout << "[calibration] " << numbers.str() << std::endl;
  RecordProperty("calibration", numbers.str());
  if (available != 0 && limit > available) {
    GTEST_SKIP() << "the limit would exceed the memory available, so it would not protect "
                    "this machine: "
                 << numbers.str();
  }

  std::string why;
  auto child = ChildServer::Start(fluxserve, config, dir.path(), limit, kReadyTimeoutS, &why);
  if (child == nullptr) {
    GTEST_SKIP() << "the server does not start under the calibrated limit (" << numbers.str()
                 << "): " << why;
  }
  const ChildResponse large = child->Post(kGenerations, Request(kLargeSide));
  ASSERT_EQ(large.status, 200) << large.error << large.body
                               << "\nserver: " << child->ExitDescription() << "\nlog:\n"
                               << child->Log();
  const Poco::JSON::Object::Ptr json = ParseObject(large.body);
  ASSERT_TRUE(json) << large.body;
  if (!json->has("fallback_reason")) {
    GTEST_SKIP() << "the limit did not bind: " << kLargeSide << "x" << kLargeSide
                 << " fitted under it (" << numbers.str() << ")";
  }
  const Poco::JSON::Object::Ptr fallback = json->getObject("fallback_reason");
  const Poco::JSON::Array::Ptr steps = fallback->getArray("steps");
  ASSERT_TRUE(steps && steps->size() >= 1) << large.body;
  for (unsigned i = 0; i < steps->size(); ++i) {
    const Poco::JSON::Object::Ptr step = steps->getObject(i);
    EXPECT_EQ(step->getValue<std::string>("code"), "resolution_halved") << large.body;
    const std::string failure = step->getValue<std::string>("failure");
    EXPECT_EQ(failure.rfind("RESOURCE_EXHAUSTED: ", 0), 0u) << failure;
    EXPECT_NE(failure.find("allocate"), std::string::npos)
        << "the allocator's own message: " << failure;
  }
  const int side = kLargeSide >> steps->size();
  const std::string size = std::to_string(side) + "x" + std::to_string(side);
  EXPECT_EQ(json->getValue<std::string>("size"), size) << "each rung halves the sides";
  EXPECT_EQ(json->getObject("parameters")->getValue<std::string>("width"), std::to_string(side));
  EXPECT_GE(side, 64) << "min_side";
  std::cout << "[result] " << kLargeSide << "x" << kLargeSide << " served as " << size << " after "
            << steps->size() << " out-of-memory tries" << std::endl;
  RecordProperty("served_size", size);

  EXPECT_TRUE(child->Alive()) << child->Log();
  const ChildResponse next = child->Post(kGenerations, Request(kSmallSide));
  EXPECT_EQ(next.status, 200) << next.error << next.body << "\nlog:\n" << child->Log();
  const Poco::JSON::Object::Ptr next_json = ParseObject(next.body);
  ASSERT_TRUE(next_json) << next.body;
  EXPECT_FALSE(next_json->has("fallback_reason")) << "the small request fits as calibrated";
  EXPECT_TRUE(child->Alive()) << child->Log();
  EXPECT_LE(child->Memory().vm_peak, limit) << "the limit held";

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "[timing] " << seconds << " s in all" << std::endl;
}

}  // namespace
}  // namespace flx::test
