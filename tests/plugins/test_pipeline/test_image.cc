#include "test_image.h"

#include <algorithm>

namespace flx::test_pipeline {

uint64_t Fnv1a64(std::string_view bytes, uint64_t hash) {
  constexpr uint64_t kPrime = 0x100000001b3ull;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= kPrime;
  }
  return hash;
}

std::vector<uint8_t> RenderTestImage(std::string_view prompt, uint64_t seed, uint32_t width,
                                     uint32_t height) {
  char seed_bytes[8];
  for (int i = 0; i < 8; ++i) seed_bytes[i] = static_cast<char>((seed >> (8 * i)) & 0xff);
  const uint64_t hash = Fnv1a64(std::string_view(seed_bytes, 8), Fnv1a64(prompt));
  auto byte = [hash](int index) { return static_cast<int>((hash >> (8 * index)) & 0xff); };
  const int from_red = byte(0), to_red = byte(1);
  const int from_green = byte(2), to_green = byte(3);
  const int blue_even = byte(4), blue_odd = byte(5);
  const uint32_t cell = 2 + static_cast<uint32_t>(byte(6) % 8);

  const int x_span = static_cast<int>(std::max<uint32_t>(width - 1, 1));
  const int y_span = static_cast<int>(std::max<uint32_t>(height - 1, 1));
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * 3);
  uint8_t* out = pixels.data();
  for (uint32_t y = 0; y < height; ++y) {
    const int green = from_green + (to_green - from_green) * static_cast<int>(y) / y_span;
    for (uint32_t x = 0; x < width; ++x) {
      *out++ = static_cast<uint8_t>(from_red + (to_red - from_red) * static_cast<int>(x) / x_span);
      *out++ = static_cast<uint8_t>(green);
      *out++ = static_cast<uint8_t>(((x / cell + y / cell) % 2 == 0) ? blue_even : blue_odd);
    }
  }
  return pixels;
}

}  // namespace flx::test_pipeline
