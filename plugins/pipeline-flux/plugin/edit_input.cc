#include "edit_input.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <flx/plugin.hpp>
#include <string>

#include "model/edit_images.h"

namespace flx::flux {
namespace {

constexpr double kLanczosA = 3;
constexpr double kPi = 3.14159265358979323846;

double sinc(double x) {
  if (x == 0) return 1;
  x *= kPi;
  return std::sin(x) / x;
}

double lanczos(double x) { return std::abs(x) < kLanczosA ? sinc(x) * sinc(x / kLanczosA) : 0; }

// For each output index: the first input index and the normalised weights (PIL's scheme:
// the filter widens by the scale when shrinking, centres at (i + 0.5) * scale).
struct Taps {
  std::vector<int64_t> first;
  std::vector<std::vector<double>> weights;
};

Taps make_taps(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = kLanczosA * filter_scale;
  Taps taps;
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(center - support + 0.5));
    const int64_t hi = std::min<int64_t>(in_size, static_cast<int64_t>(center + support + 0.5));
    std::vector<double> w;
    double total = 0;
    for (int64_t j = lo; j < hi; ++j) {
      w.push_back(lanczos((j - center + 0.5) / filter_scale));
      total += w.back();
    }
    for (double& v : w) v = total != 0 ? v / total : 0;
    taps.first.push_back(lo);
    taps.weights.push_back(std::move(w));
  }
  return taps;
}

// The double a client meant by the float it sent: its shortest decimal, read back as a double
// (0.3f is 0.300000011920929; diffusers computes with the Python float 0.3, and the first
// step, int(steps - steps * strength), can differ between the two).
double decimal_of(float value) {
  char text[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(text, sizeof(text), "%.*g", digits, static_cast<double>(value));
    if (std::strtof(text, nullptr) == value) break;
  }
  return std::strtod(text, nullptr);
}

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

}  // namespace

const flx_image* edit_image(const flx_request& request) {
  return FLX_HAS_FIELD(flx_request, &request, init_image) ? request.init_image : nullptr;
}

void edit_default_size(const flx_image& image, int64_t multiple, int64_t* width, int64_t* height) {
  *width = image.width - image.width % multiple;
  *height = image.height - image.height % multiple;
  if (*width == 0 || *height == 0) {
    throw flx::Error(FLX_INVALID_ARGUMENT, "the image is " + std::to_string(image.width) + "x" +
                                               std::to_string(image.height) +
                                               "; FLUX edits need sides of at least " +
                                               std::to_string(multiple))
        .detail("param", "image");
  }
}

std::vector<uint8_t> resample(const flx_image& image, int64_t width, int64_t height,
                              int out_channels) {
  const int64_t in_w = image.width, in_h = image.height;
  auto at = [&](int64_t x, int64_t y, int c) -> double {
    const int channel = std::min<int>(c, static_cast<int>(image.channels) - 1);
    return image.pixels[y * image.stride + x * image.channels + channel];
  };
  std::vector<uint8_t> out(static_cast<size_t>(width * height * out_channels));
  if (width == in_w && height == in_h) {  // the identity, exactly
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        for (int c = 0; c < out_channels; ++c) {
          out[(y * width + x) * out_channels + c] = static_cast<uint8_t>(at(x, y, c));
        }
      }
    }
    return out;
  }
  // Horizontal pass into doubles (rounded to bytes, as PIL does between passes), then vertical.
  const Taps horizontal = make_taps(in_w, width);
  const Taps vertical = make_taps(in_h, height);
  std::vector<uint8_t> rows(static_cast<size_t>(width * in_h * out_channels));
  for (int64_t y = 0; y < in_h; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int c = 0; c < out_channels; ++c) {
        double sum = 0;
        const auto& w = horizontal.weights[x];
        for (size_t k = 0; k < w.size(); ++k) sum += w[k] * at(horizontal.first[x] + k, y, c);
        rows[(y * width + x) * out_channels + c] = to_byte(sum);
      }
    }
  }
  for (int64_t y = 0; y < height; ++y) {
    const auto& w = vertical.weights[y];
    for (int64_t x = 0; x < width; ++x) {
      for (int c = 0; c < out_channels; ++c) {
        double sum = 0;
        for (size_t k = 0; k < w.size(); ++k) {
          sum += w[k] * rows[((vertical.first[y] + k) * width + x) * out_channels + c];
        }
        out[(y * width + x) * out_channels + c] = to_byte(sum);
      }
    }
  }
  return out;
}

std::shared_ptr<const EditImages> edit_images(const flx_request& request, int64_t width,
                                              int64_t height) {
  const flx_image* image = edit_image(request);
  if (image == nullptr) return nullptr;
  auto edit = std::make_shared<EditImages>();
  if (!std::isnan(request.strength)) {
    if (!(request.strength > 0) || request.strength > 1) {
      throw flx::Error(FLX_INVALID_ARGUMENT, "strength must be in (0, 1]")
          .detail("param", "strength");
    }
    edit->strength = decimal_of(request.strength);
  }
  edit->rgb = resample(*image, width, height, 3);
  if (request.mask != nullptr) edit->mask = resample(*request.mask, width, height, 1);
  return edit;
}

}  // namespace flx::flux
