// Deterministic stand-in images for the test pipeline: equal inputs give bit-identical
// pixels, and a different seed or prompt gives a visibly different picture.
#ifndef FLX_TESTS_PLUGINS_TEST_PIPELINE_TEST_IMAGE_H_
#define FLX_TESTS_PLUGINS_TEST_PIPELINE_TEST_IMAGE_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace flx::test_pipeline {

constexpr uint64_t kFnv1aOffsetBasis = 0xcbf29ce484222325ull;

// 64-bit FNV-1a of `bytes`, continuing from `hash` (the offset basis starts a new hash).
uint64_t Fnv1a64(std::string_view bytes, uint64_t hash = kFnv1aOffsetBasis);

// A width x height RGB image (rows of width * 3 bytes, no padding): a horizontal red and a
// vertical green gradient between two colours, over a blue checkerboard whose cell size,
// like the colours, comes from the FNV-1a hash of the prompt followed by the seed (8 bytes,
// little-endian). width and height must be >= 1.
std::vector<uint8_t> RenderTestImage(std::string_view prompt, uint64_t seed, uint32_t width,
                                     uint32_t height);

}  // namespace flx::test_pipeline

#endif  // FLX_TESTS_PLUGINS_TEST_PIPELINE_TEST_IMAGE_H_
