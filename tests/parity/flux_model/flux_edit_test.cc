// Edits (image-to-image, inpainting) on the tiny-flux checkpoint. No diffusers output for
// edits exists in ../shared/golden yet, so these check the properties diffusers'
// FluxImg2ImgPipeline and FluxInpaintPipeline (0.32.2) have by construction:
//   - at strength 1 the start is pure noise (sigma 1), so the image no longer matters, while
//     the noise is the generator's second draw (the VAE sample is the first): the result
//     differs from text-to-image with the same seed;
//   - an edit runs only the last steps: steps - int(steps - steps * strength);
//   - inpainting with nothing to repaint ends on the image's own latents whatever the prompt;
//     with everything to repaint it is image-to-image.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "golden_tensors.h"
#include "model/flux_pipeline.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

class FluxEdit : public ::testing::Test {
 protected:
  void SetUp() override {
    FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
    const std::vector<flx::test::GoldenCase> cases = flx::test::golden_cases(model_dir);
    ASSERT_FALSE(cases.empty());
    pipeline_ = &flx::test::tiny_flux_pipeline(model_dir);
    params_ = flx::test::golden_params(cases.front());
    params_.steps = 4;
  }

  // A width x height RGB picture; `shade` changes it.
  std::vector<uint8_t> Picture(int shade) const {
    std::vector<uint8_t> rgb(static_cast<size_t>(params_.width * params_.height * 3));
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>((i * 7 + shade) % 256);
    return rgb;
  }

  std::vector<uint8_t> Edit(std::vector<uint8_t> rgb, double strength,
                            std::vector<uint8_t> mask = {}, int* steps_run = nullptr) const {
    GenerateParams params = params_;
    auto edit = std::make_shared<EditImages>();
    edit->rgb = std::move(rgb);
    edit->mask = std::move(mask);
    edit->strength = strength;
    params.edit = edit;
    GenerateCallbacks callbacks;
    int steps = 0;
    callbacks.on_step = [&steps](int step, int total, double) {
      steps = step;
      EXPECT_LE(step, total);
    };
    std::vector<uint8_t> out = pipeline_->generate(params, callbacks).front().rgb;
    if (steps_run != nullptr) *steps_run = steps;
    return out;
  }

  std::vector<uint8_t> Mask(uint8_t value) const {
    return std::vector<uint8_t>(static_cast<size_t>(params_.width * params_.height), value);
  }

  const FluxPipeline* pipeline_ = nullptr;
  GenerateParams params_;
};

TEST_F(FluxEdit, AtStrengthOneTheImageNoLongerMattersButTheNoiseIsTheSecondDraw) {
  const std::vector<uint8_t> a = Edit(Picture(0), 1.0);
  const std::vector<uint8_t> b = Edit(Picture(99), 1.0);
  EXPECT_EQ(a, b) << "sigma 1: the start is the noise alone";
  const std::vector<uint8_t> text_to_image = pipeline_->generate(params_).front().rgb;
  EXPECT_NE(a, text_to_image) << "the VAE sample draws first, so the noise is another draw";
}

TEST_F(FluxEdit, AnEditRunsTheLastStepsOnly) {
  const std::vector<uint8_t> image = Picture(5);
  // steps - int(steps - steps * strength) steps run: never none for a strength above 0.
  for (const auto& [strength, expected] :
       std::vector<std::pair<double, int>>{{1.0, 4}, {0.5, 2}, {0.3, 2}, {0.1, 1}, {1e-9, 1}}) {
    int steps = 0;
    Edit(image, strength, {}, &steps);
    EXPECT_EQ(steps, expected) << "strength " << strength;
  }
}

TEST_F(FluxEdit, InpaintingKeepsWhatTheMaskKeepsAndRepaintsWhatItRepaints) {
  const std::vector<uint8_t> image = Picture(11);
  // Nothing to repaint: the final latents are the image's, whatever the prompt says.
  const std::vector<uint8_t> kept = Edit(image, 0.8, Mask(0));
  GenerateParams other = params_;
  params_.t5_ids[1] = params_.t5_ids[1] == 5 ? 6 : 5;  // another prompt
  EXPECT_EQ(Edit(image, 0.8, Mask(0)), kept);
  params_ = other;
  // Everything to repaint: image-to-image.
  EXPECT_EQ(Edit(image, 0.8, Mask(255)), Edit(image, 0.8));
  EXPECT_NE(Edit(image, 0.8, Mask(255)), kept);
}

TEST_F(FluxEdit, ImagesOfAnotherSizeAndStrengthsOutsideTheRangeAreRefused) {
  GenerateParams params = params_;
  auto edit = std::make_shared<EditImages>();
  edit->rgb = Picture(0);
  edit->rgb.pop_back();
  params.edit = edit;
  EXPECT_THROW(pipeline_->generate(params), std::invalid_argument);
  auto strong = std::make_shared<EditImages>();
  strong->rgb = Picture(0);
  strong->strength = 1.5;
  params.edit = strong;
  EXPECT_THROW(pipeline_->generate(params), std::invalid_argument);
}

}  // namespace
}  // namespace flx::flux
