// flx_gradient_pipeline: a pipeline of type `gradient` that "generates" a colour gradient in
// a few steps instead of running a model. It is small on purpose: it shows what a pipeline
// plugin owes the rest of fluxserve through the SDK's shared vocabulary.
//
//  * Knobs (flx/knobs.hpp): it applies steps, width, height and the relative steps_factor /
//    resolution_factor / min_steps / min_side a recovery stage sends, and reports the values
//    it used with result_set_param under the knob names.
//  * Out of memory: a try above `max_pixels` (config, default 1048576) fails with
//    FLX_RESOURCE_EXHAUSTED, as a real pipeline's allocator would, so a `ladder` recovery
//    stage with `{resolution: half}` retries it smaller.
//  * Events: a step event per step, then the phases FLX_PHASE_DENOISE and
//    FLX_PHASE_VAE_DECODE, which the `prometheus` metrics stage exports as
//    fluxserve_phase_seconds{phase="denoise"} and {phase="vae_decode"}.
//  * Settings (flx_setting): it declares max_pixels with an environment variable and a
//    `fluxserve generate` flag, which the host applies without knowing this plugin.
#include <chrono>
#include <cstdint>
#include <flx/knobs.hpp>
#include <flx/plugin.hpp>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kDefaultSide = 256;
constexpr int64_t kDefaultSteps = 4;
constexpr int64_t kSizeMultiple = 16;
constexpr int64_t kMaxSide = 4096;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The request's values, its knobs over them, then the relative knobs' scaling.
struct Effective {
  int64_t width;
  int64_t height;
  int64_t steps;
};

int64_t Side(const char* name, int64_t value) {
  if (value < kSizeMultiple || value > kMaxSide || value % kSizeMultiple != 0) {
    throw flx::Error(FLX_INVALID_ARGUMENT, std::string(name) + " must be a multiple of " +
                                               std::to_string(kSizeMultiple) + " up to " +
                                               std::to_string(kMaxSide))
        .detail("param", "size");
  }
  return value;
}

Effective Resolve(const flx_request& request) {
  Effective e{request.width ? Side("width", request.width) : kDefaultSide,
              request.height ? Side("height", request.height) : kDefaultSide,
              request.steps ? int64_t{request.steps} : kDefaultSteps};
  const flx::Knobs knobs = flx::Knobs::parse(request);
  if (knobs.width) e.width = *knobs.width / kSizeMultiple * kSizeMultiple;
  if (knobs.height) e.height = *knobs.height / kSizeMultiple * kSizeMultiple;
  if (knobs.steps) e.steps = *knobs.steps;
  e.steps = knobs.scaled_steps(e.steps);
  e.width = knobs.scaled_side(e.width, kSizeMultiple);
  e.height = knobs.scaled_side(e.height, kSizeMultiple);
  return e;
}

class GradientPipeline final : public flx::Pipeline {
 public:
  explicit GradientPipeline(const flx::StageContext& context)
      : host_(context.host), max_pixels_(context.config.get_int("max_pixels", 1 << 20)) {
    if (max_pixels_ < 1) {
      throw context.config.error("max_pixels must be >= 1, got " + std::to_string(max_pixels_));
    }
  }

  void generate(const flx_request& request, flx_result* result) override {
    const Effective e = Resolve(request);
    if (e.width * e.height > max_pixels_) {
      throw flx::Error(FLX_RESOURCE_EXHAUSTED, "out of memory: " + std::to_string(e.width) + "x" +
                                                   std::to_string(e.height) +
                                                   " is above max_pixels " +
                                                   std::to_string(max_pixels_));
    }
    flx::set_param(result, FLX_KNOB_WIDTH, std::to_string(e.width));
    flx::set_param(result, FLX_KNOB_HEIGHT, std::to_string(e.height));
    flx::set_param(result, FLX_KNOB_STEPS, std::to_string(e.steps));

    const Clock::time_point denoise_start = Clock::now();
    for (int64_t step = 1; step <= e.steps; ++step) {
      if (flx::Host::cancelled(request.call)) throw flx::Error(FLX_CANCELLED, "cancelled");
      const Clock::time_point step_start = Clock::now();
      // A real pipeline runs one denoising step here.
      host_.emit_step(request.call, static_cast<uint32_t>(step), static_cast<uint32_t>(e.steps),
                      SecondsSince(step_start));
    }
    host_.emit_phase(request.call, FLX_PHASE_DENOISE, SecondsSince(denoise_start));

    const Clock::time_point decode_start = Clock::now();
    for (uint32_t i = 0; i < request.n; ++i) {
      const std::vector<uint8_t> pixels = Gradient(e.width, e.height, request.seed + i);
      flx::add_image(result, static_cast<uint32_t>(e.width), static_cast<uint32_t>(e.height), 3,
                     pixels.data(), request.seed + i);
    }
    host_.emit_phase(request.call, FLX_PHASE_VAE_DECODE, SecondsSince(decode_start));
  }

  std::string describe() override {
    return "{\"type\":\"gradient\",\"max_pixels\":" + std::to_string(max_pixels_) + "}";
  }

 private:
  // Red across, green down, blue from the seed.
  static std::vector<uint8_t> Gradient(int64_t width, int64_t height, uint64_t seed) {
    std::vector<uint8_t> rgb(static_cast<size_t>(width * height * 3));
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        uint8_t* pixel = &rgb[static_cast<size_t>((y * width + x) * 3)];
        pixel[0] = static_cast<uint8_t>(255 * x / width);
        pixel[1] = static_cast<uint8_t>(255 * y / height);
        pixel[2] = static_cast<uint8_t>(seed * 37);
      }
    }
    return rgb;
  }

  const flx::Host host_;
  const int64_t max_pixels_;
};

// The settings an operator may give without editing YAML: GRADIENT_MAX_PIXELS in the
// environment of `fluxserve serve`, or --max-pixels to `fluxserve generate --plugin ...`.
const flx_setting kSettings[] = {
    flx::setting("max_pixels", FLX_SETTING_INT, "GRADIENT_MAX_PIXELS", "--max-pixels", "N",
                 "the largest image a try may make before it fails as out of memory"),
};

}  // namespace

FLX_PLUGIN("flx_gradient_pipeline", "1.0.0",
           flx::pipeline_factory<GradientPipeline>("gradient", "1.0.0", FLX_FLAG_THREADSAFE,
                                                   flx::settings(kSettings)))
