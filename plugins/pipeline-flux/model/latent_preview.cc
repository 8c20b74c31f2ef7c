#include "model/latent_preview.h"

#include <ATen/ATen.h>

#include "model/latents.h"

namespace flx::flux {
namespace {

// How much each of FLUX.1's 16 latent channels adds to R, G and B, and a constant offset: a
// least-squares fit of decoded images on latents, as published with ComfyUI's Flux latent
// format (the numbers are properties of the FLUX.1 VAE, not code).
constexpr float kRgbFactors[16][3] = {
    {-0.0346f, 0.0244f, 0.0681f},  {0.0034f, 0.0210f, 0.0687f},    {0.0275f, -0.0668f, -0.0433f},
    {-0.0174f, 0.0160f, 0.0617f},  {0.0859f, 0.0721f, 0.0329f},    {0.0004f, 0.0383f, 0.0115f},
    {0.0405f, 0.0861f, 0.0915f},   {-0.0236f, -0.0185f, -0.0259f}, {-0.0245f, 0.0250f, 0.1180f},
    {0.1008f, 0.0755f, -0.0421f},  {-0.0515f, 0.0201f, 0.0011f},   {0.0428f, -0.0012f, -0.0036f},
    {0.0817f, 0.0765f, 0.0749f},   {-0.1264f, -0.0522f, -0.1103f}, {-0.0280f, -0.0881f, -0.0499f},
    {-0.1262f, -0.0982f, -0.0778f}};
constexpr float kRgbBias[3] = {-0.0329f, -0.0718f, -0.0851f};
constexpr int64_t kChannels = 16;

// [h, w, C] float -> [h, w, 3] in [-1, 1] (roughly).
at::Tensor project_to_rgb(const at::Tensor& hwc) {
  if (hwc.size(2) != kChannels) {
    return hwc.mean(2, /*keepdim=*/true).expand({hwc.size(0), hwc.size(1), 3});
  }
  const at::Tensor factors =
      at::from_blob(const_cast<float*>(&kRgbFactors[0][0]), {kChannels, 3}, at::kFloat);
  const at::Tensor bias = at::from_blob(const_cast<float*>(kRgbBias), {3}, at::kFloat);
  return at::matmul(hwc, factors) + bias;
}

}  // namespace

at::Tensor predicted_clean_latents(const at::Tensor& latents, const at::Tensor& velocity,
                                   double sigma) {
  return latents - velocity * sigma;
}

PreviewImage latent_preview(const at::Tensor& packed, int64_t latent_height, int64_t latent_width) {
  const at::Tensor map = unpack_latents(packed.slice(0, 0, 1), latent_height, latent_width);
  const at::Tensor hwc = map[0].to(at::kCPU, at::kFloat).permute({1, 2, 0}).contiguous();
  const at::Tensor rgb =
      ((project_to_rgb(hwc) + 1) * 127.5).clamp(0, 255).round().to(at::kByte).contiguous();
  PreviewImage preview;
  preview.height = rgb.size(0);
  preview.width = rgb.size(1);
  const uint8_t* data = rgb.data_ptr<uint8_t>();
  preview.rgb.assign(data, data + rgb.numel());
  return preview;
}

}  // namespace flx::flux
