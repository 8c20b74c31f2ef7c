// flx_test_pipeline: a pipeline that draws deterministic pictures instead of running a model,
// for host tests. Type `test` declares itself not thread-safe and fails any call that
// overlaps another (the check host scheduler tests rely on); `test_threadsafe` allows it.
// It honours the overrides of a recovery stage that change what it draws (width, height,
// steps and the relative steps_factor/min_steps/resolution_factor/min_side) and reports
// every override it was given as an effective parameter.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <flx/knobs.hpp>
#include <flx/plugin.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_image.h"
#include "test_pipeline_options.h"

namespace flx::test_pipeline {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kDefaultSide = 64;
constexpr uint32_t kDefaultSteps = 4;
constexpr uint32_t kMaxSide = 8192;
constexpr uint32_t kMaxSteps = 1000;
// How often a delayed generate() checks for cancellation.
constexpr std::chrono::milliseconds kCancelSlice(5);

struct EffectiveParams {
  uint32_t width = kDefaultSide;
  uint32_t height = kDefaultSide;
  uint32_t steps = kDefaultSteps;
  float guidance = 0;
};

uint32_t InRange(const std::string& param, uint64_t value, uint32_t max) {
  if (value < 1 || value > max) {
    throw flx::Error(FLX_INVALID_ARGUMENT, param + " must be between 1 and " + std::to_string(max) +
                                               ", got " + std::to_string(value))
        .detail("param", param);
  }
  return static_cast<uint32_t>(value);
}

// Request values win over defaults and the knobs of a recovery stage (flx::Knobs) win over
// both; scale factors apply last, to whatever the other values resolved to.
// An edit's image (ABI 1.3), or nullptr for text-to-image.
const flx_image* EditImage(const flx_request& request) {
  return FLX_HAS_FIELD(flx_request, &request, init_image) ? request.init_image : nullptr;
}
const flx_image* Mask(const flx_request& request) {
  return EditImage(request) != nullptr ? request.mask : nullptr;
}
// diffusers' default strength for its image-to-image pipelines.
float EditStrength(const flx_request& request) {
  return EditImage(request) != nullptr && !std::isnan(request.strength) ? request.strength : 0.6f;
}

// The byte of `image` (any channel count) at (x, y) of a width x height grid (nearest).
uint8_t Sample(const flx_image& image, uint32_t x, uint32_t y, uint32_t width, uint32_t height,
               uint32_t channel) {
  const size_t sx = size_t{x} * image.width / width;
  const size_t sy = size_t{y} * image.height / height;
  return image.pixels[sy * image.stride + sx * image.channels + std::min(channel, image.channels - 1)];
}

// An edit drawn by the test pipeline: inside the area to repaint (the whole image without a
// mask; mask bytes >= 128 with one), the pattern mixed into the init image by `strength`;
// outside, the init image. Both are sampled at the output size (nearest).
void BlendEdit(const flx_image& init, const flx_image* mask, float strength, uint32_t width,
               uint32_t height, std::vector<uint8_t>* pattern) {
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      const bool repaint = mask == nullptr || Sample(*mask, x, y, width, height, 0) >= 128;
      for (uint32_t c = 0; c < 3; ++c) {
        uint8_t& out = (*pattern)[(size_t{y} * width + x) * 3 + c];
        const float kept = Sample(init, x, y, width, height, c);
        out = repaint ? static_cast<uint8_t>(std::lround((1 - strength) * kept + strength * out))
                      : static_cast<uint8_t>(kept);
      }
    }
  }
}

EffectiveParams Resolve(const flx_request& request, uint32_t size_multiple) {
  EffectiveParams p;
  if (const flx_image* init = EditImage(request)) {  // an edit keeps its image's size
    p.width = init->width;
    p.height = init->height;
  }
  if (request.width != 0) p.width = InRange("width", request.width, kMaxSide);
  if (request.height != 0) p.height = InRange("height", request.height, kMaxSide);
  if (request.steps != 0) p.steps = InRange("steps", request.steps, kMaxSteps);
  if (!std::isnan(request.guidance)) p.guidance = request.guidance;
  const flx::Knobs knobs = flx::Knobs::parse(request);
  if (knobs.width) p.width = InRange(FLX_KNOB_WIDTH, *knobs.width, kMaxSide);
  if (knobs.height) p.height = InRange(FLX_KNOB_HEIGHT, *knobs.height, kMaxSide);
  if (knobs.steps) p.steps = InRange(FLX_KNOB_STEPS, *knobs.steps, kMaxSteps);
  p.steps = static_cast<uint32_t>(knobs.scaled_steps(p.steps));
  p.width = static_cast<uint32_t>(knobs.scaled_side(p.width, size_multiple));
  p.height = static_cast<uint32_t>(knobs.scaled_side(p.height, size_multiple));
  return p;
}

std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

// The adapters a request asked for (ABI 1.4) as "name:scale,...", "" for an empty list: this
// stand-in applies none, it only shows what reached it.
std::string DescribeLoras(const flx_request& request) {
  std::string text;
  for (size_t i = 0; i < request.n_loras; ++i) {
    if (i > 0) text += ",";
    text += std::string(request.loras[i].name) + ":" + FormatNumber(request.loras[i].scale);
  }
  return text;
}

// Counts the calls inside generate() for as long as it lives.
class Occupancy {
 public:
  Occupancy(std::atomic<int>& active, std::atomic<int>& most_seen) : active_(active) {
    now_ = ++active_;
    int seen = most_seen.load();
    while (now_ > seen && !most_seen.compare_exchange_weak(seen, now_)) {
    }
  }
  ~Occupancy() { --active_; }
  bool shared() const { return now_ > 1; }

 private:
  std::atomic<int>& active_;
  int now_ = 0;
};

class TestPipeline : public flx::Pipeline {
 public:
  TestPipeline(const flx::StageContext& context, const char* type, bool threadsafe)
      : host_(context.host),
        type_(type),
        threadsafe_(threadsafe),
        options_(ReadTestPipelineOptions(context.config)) {}

  void prepare() override {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.prepare_delay_ms));
    if (options_.prepare_fail) {
      throw flx::Error(FLX_INTERNAL, "prepare failed (injected by prepare_fail)");
    }
    ++prepares_;
    loaded_ = true;
  }

  // What a real pipeline's unload does to its weights: after it, generate() must not run
  // until prepare() ran again, and this stand-in fails loudly if the host lets it.
  void unload() override {
    if (active_.load() != 0) throw flx::Error(FLX_INTERNAL, "unloaded while generating");
    loaded_ = false;
    ++unloads_;
  }

  void generate(const flx_request& request, flx_result* result) override {
    const Clock::time_point started = Clock::now();
    Occupancy occupancy(active_, most_active_);
    const int64_t attempt = ++calls_;
    if (occupancy.shared() && !threadsafe_) {
      throw flx::Error(FLX_INTERNAL, "pipeline entered concurrently");
    }
    if (!loaded_.load()) throw flx::Error(FLX_INTERNAL, "generate() on an unloaded model");
    const flx_call* call = request.call;
    RecordRun(request.id);
    const EffectiveParams params = Resolve(request, static_cast<uint32_t>(options_.size_multiple));
    // Every override counts as used, so clients see the knobs recovery chose even where this
    // stand-in has nothing to apply them to; the resolved values below win for shared keys.
    for (const auto& [key, value] : flx::overrides(request)) flx::set_param(result, key, value);
    flx::set_param(result, "width", std::to_string(params.width));
    flx::set_param(result, "height", std::to_string(params.height));
    flx::set_param(result, "steps", std::to_string(params.steps));
    flx::set_param(result, "guidance", FormatNumber(params.guidance));
    if (FLX_HAS_FIELD(flx_request, &request, loras_given) && request.loras_given) {
      flx::set_param(result, FLX_PARAM_LORA, DescribeLoras(request));
    }
    InjectFailures(params, attempt);

    RunSteps(call, params.steps, started);
    const flx_image* init = EditImage(request);
    const float strength = EditStrength(request);
    if (init != nullptr) {
      flx::set_param(result, "edit", Mask(request) ? "inpaint" : "img2img");
      flx::set_param(result, "strength", FormatNumber(strength));
    }
    const uint32_t images = std::max<uint32_t>(request.n, 1);
    for (uint32_t i = 0; i < images; ++i) {
      const uint64_t seed = request.seed + i;
      std::vector<uint8_t> pixels =
          RenderTestImage(request.prompt, seed, params.width, params.height);
      if (init != nullptr) {
        BlendEdit(*init, Mask(request), strength, params.width, params.height, &pixels);
      }
      flx::add_image(result, params.width, params.height, 3, pixels.data(), seed);
    }
    // Not "generate": the host writes its own "generate_s" timing, which a phase of that
    // name would duplicate; not a phase real pipelines report, so observers tell them apart.
    host_.emit_phase(call, "render", std::chrono::duration<double>(Clock::now() - started).count());
  }

  std::string describe() override {
    return std::string("{\"type\":\"") + type_ +
           "\",\"max_concurrent_seen\":" + std::to_string(most_active_.load()) +
           ",\"calls\":" + std::to_string(calls_.load()) +
           ",\"prepares\":" + std::to_string(prepares_.load()) +
           ",\"unloads\":" + std::to_string(unloads_.load()) + "}";
  }

 private:
  // One line per run in runs_file: a single O_APPEND write, so processes never interleave.
  void RecordRun(const char* request_id) const {
    if (options_.runs_file.empty()) return;
    const std::string line = std::string(request_id) + "\n";
    const int fd = ::open(options_.runs_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) throw flx::Error(FLX_INTERNAL, "cannot open runs_file " + options_.runs_file);
    const ssize_t written = ::write(fd, line.data(), line.size());
    ::close(fd);
    if (written != static_cast<ssize_t>(line.size())) {
      throw flx::Error(FLX_INTERNAL, "cannot write runs_file " + options_.runs_file);
    }
  }

  void InjectFailures(const EffectiveParams& params, int64_t attempt) const {
    const uint64_t pixels = uint64_t{params.width} * params.height;
    if (options_.fail_above_pixels && pixels > uint64_t(*options_.fail_above_pixels)) {
      throw flx::Error(FLX_RESOURCE_EXHAUSTED, "out of memory (injected)");
    }
    const bool fails_this_try =
        options_.fail_first_n ? attempt <= *options_.fail_first_n : options_.fail_code.has_value();
    if (fails_this_try) {
      const flx_code code = options_.fail_code.value_or(FLX_RESOURCE_EXHAUSTED);
      throw flx::Error(code, code == FLX_RESOURCE_EXHAUSTED
                                 ? "out of memory (injected)"
                                 : "injected failure on try " + std::to_string(attempt));
    }
    if (options_.throw_std_exception) {
      throw std::runtime_error("std::runtime_error thrown by the test pipeline (injected)");
    }
  }

  // Spreads delay_ms over the steps, reporting each and giving up when the call is cancelled.
  void RunSteps(const flx_call* call, uint32_t steps, Clock::time_point started) const {
    const auto delay = std::chrono::milliseconds(options_.delay_ms);
    Clock::time_point step_started = Clock::now();
    for (uint32_t step = 1; step <= steps; ++step) {
      const Clock::time_point step_ends = started + delay * step / steps;
      while (true) {
        if (flx::Host::cancelled(call)) {
          throw flx::Error(FLX_CANCELLED, "cancelled during step " + std::to_string(step) + " of " +
                                              std::to_string(steps));
        }
        const Clock::time_point now = Clock::now();
        if (now >= step_ends) break;
        std::this_thread::sleep_for(std::min<Clock::duration>(kCancelSlice, step_ends - now));
      }
      const Clock::time_point now = Clock::now();
      host_.emit_step(call, step, steps, std::chrono::duration<double>(now - step_started).count());
      if (flx::Host::preview_wanted(call, step, steps)) SendPreview(call, step, steps);
      step_started = now;
    }
  }

  // An 8x8 grey preview whose level tells the step: 255 * step / steps.
  void SendPreview(const flx_call* call, uint32_t step, uint32_t steps) const {
    constexpr uint32_t kSide = 8;
    const std::vector<uint8_t> pixels(kSide * kSide * 3, uint8_t(255 * step / steps));
    host_.preview(call, step, steps, kSide, kSide, 3, pixels.data());
  }

  const flx::Host host_;
  const char* const type_;
  const bool threadsafe_;
  const TestPipelineOptions options_;
  std::atomic<int> active_{0};
  std::atomic<int> most_active_{0};
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> prepares_{0};
  std::atomic<int64_t> unloads_{0};
  std::atomic<bool> loaded_{true};  // created usable; unload() clears it until prepare()
};

// One class per factory: plugin.hpp keeps one static factory table per class.
class SerialTestPipeline final : public TestPipeline {
 public:
  explicit SerialTestPipeline(const flx::StageContext& c) : TestPipeline(c, "test", false) {}
};

class ThreadsafeTestPipeline final : public TestPipeline {
 public:
  explicit ThreadsafeTestPipeline(const flx::StageContext& c)
      : TestPipeline(c, "test_threadsafe", true) {}
};

}  // namespace
}  // namespace flx::test_pipeline

FLX_PLUGIN("flx_test_pipeline", "1.0.0",
           flx::pipeline_factory<flx::test_pipeline::SerialTestPipeline>("test", "1.0.0"),
           flx::pipeline_factory<flx::test_pipeline::ThreadsafeTestPipeline>("test_threadsafe",
                                                                             "1.0.0",
                                                                             FLX_FLAG_THREADSAFE))
