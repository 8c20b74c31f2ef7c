#include "model/attention.h"

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace flx::flux {
namespace {

// softmax(q k^T / sqrt(d)) v computed one query at a time in double precision.
double reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t b,
                 int64_t h, int64_t i, int64_t c) {
  const int64_t keys = k.size(2);
  const int64_t d = q.size(3);
  std::vector<double> logits(keys);
  double max_logit = -INFINITY;
  for (int64_t j = 0; j < keys; ++j) {
    double dot = 0;
    for (int64_t x = 0; x < d; ++x)
      dot += q[b][h][i][x].item<double>() * k[b][h][j][x].item<double>();
    logits[j] = dot / std::sqrt(static_cast<double>(d));
    max_logit = std::max(max_logit, logits[j]);
  }
  double total = 0, weighted = 0;
  for (int64_t j = 0; j < keys; ++j) {
    const double w = std::exp(logits[j] - max_logit);
    total += w;
    weighted += w * v[b][h][j][c].item<double>();
  }
  return weighted / total;
}

TEST(Attention, MatchesTheDefinitionOnRandomInputs) {
  at::manual_seed(7);
  const at::Tensor q = at::randn({2, 3, 5, 8});
  const at::Tensor k = at::randn({2, 3, 6, 8});
  const at::Tensor v = at::randn({2, 3, 6, 8});
  const at::Tensor out = attention(q, k, v);
  ASSERT_EQ(out.sizes(), at::IntArrayRef({2, 3, 5, 8}));
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t h = 0; h < 3; ++h) {
      for (int64_t i = 0; i < 5; ++i) {
        for (int64_t c = 0; c < 8; c += 3) {
          EXPECT_NEAR(out[b][h][i][c].item<double>(), reference(q, k, v, b, h, i, c), 1e-5)
              << "b" << b << " h" << h << " i" << i << " c" << c;
        }
      }
    }
  }
}

TEST(Attention, AcceptsNonContiguousViews) {
  at::manual_seed(3);
  const at::Tensor q = at::randn({1, 4, 2, 16}).transpose(1, 2);
  const at::Tensor k = at::randn({1, 4, 2, 16}).transpose(1, 2);
  const at::Tensor v = at::randn({1, 4, 2, 16}).transpose(1, 2);
  // Strided and contiguous inputs may take different GEMM kernels (which one can depend on
  // what ran before in the process), so compare to float rounding, not allclose's 1e-8 atol.
  const at::Tensor strided = attention(q, k, v);
  const at::Tensor dense = attention(q.contiguous(), k.contiguous(), v.contiguous());
  EXPECT_TRUE(at::allclose(strided, dense, 1e-5, 1e-6))
      << "max difference " << (strided - dense).abs().max().item<double>() << ", dtype "
      << strided.scalar_type();
}

using Slicing = AttentionOptions::Slicing;

TEST(ParseAttentionSlicing, AcceptsOffAutoMaxAndCounts) {
  const struct {
    std::string text;
    Slicing slicing;
    int64_t chunks;
    std::string name;
  } cases[] = {
      {"off", Slicing::kOff, 1, "off"},
      {"OFF", Slicing::kOff, 1, "off"},
      {"auto", Slicing::kAuto, 1, "auto"},
      {"Max", Slicing::kMax, 1, "max"},
      {"4", Slicing::kChunks, 4, "4"},
      {"1", Slicing::kChunks, 1, "1"},
      {"1000000", Slicing::kChunks, 1000000, "1000000"},
  };
  for (const auto& c : cases) {
    const AttentionOptions options = parse_attention_slicing(c.text);
    EXPECT_EQ(options.slicing, c.slicing) << c.text;
    if (c.slicing == Slicing::kChunks) {
      EXPECT_EQ(options.chunks, c.chunks) << c.text;
    }
    EXPECT_EQ(attention_slicing_name(options), c.name) << c.text;
    EXPECT_TRUE(parse_attention_slicing(attention_slicing_name(options)) == options) << c.text;
  }
}

TEST(ParseAttentionSlicing, RejectsAnythingElseNamingTheKey) {
  for (const std::string& bad :
       std::vector<std::string>{"", "0", "-2", "1.5", "half", "on", "1000001", "99999999999"}) {
    try {
      parse_attention_slicing(bad);
      ADD_FAILURE() << "expected std::invalid_argument for \"" << bad << "\"";
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()), "attention_slicing \"" + bad +
                                               "\" must be off, auto, max or a chunk count "
                                               "1..1000000");
    }
  }
}

AttentionOptions slicing(const std::string& text) { return parse_attention_slicing(text); }

TEST(AttentionSlice, FollowsEachSetting) {
  const struct {
    std::string setting;
    int64_t batch, heads, queries, keys;
    int64_t slice_batch, slice_heads, slice_queries;
  } cases[] = {
      {"off", 2, 24, 4608, 4608, 2, 24, 4608},
      {"4", 1, 24, 4608, 4608, 1, 24, 1152},
      {"3", 1, 2, 10, 10, 1, 2, 4},    // ceil(10 / 3)
      {"100", 1, 2, 10, 10, 1, 2, 1},  // more chunks than queries: one query each
      {"max", 2, 24, 4608, 4608, 1, 1, 1024},
      {"max", 1, 1, 300, 300, 1, 1, 300},
      {"auto", 1, 2, 64, 64, 1, 2, 64},  // 32 KiB of scores: under the budget
  };
  for (const auto& c : cases) {
    const AttentionSlice slice =
        attention_slice(slicing(c.setting), c.batch, c.heads, c.queries, c.keys, 4);
    EXPECT_EQ(slice.batch, c.slice_batch) << c.setting;
    EXPECT_EQ(slice.heads, c.slice_heads) << c.setting;
    EXPECT_EQ(slice.queries, c.slice_queries) << c.setting;
  }
}

TEST(AttentionSlice, AutoUsesTheFewestQueryChunksWithinTheBudget) {
  // FLUX.1 at 1024x1024: 24 heads over 512 text + 4096 image tokens.
  for (const int64_t element_size : {2, 4}) {
    const int64_t heads = 24, tokens = 4608;
    const AttentionSlice slice =
        attention_slice(slicing("auto"), 1, heads, tokens, tokens, element_size);
    EXPECT_EQ(slice.batch, 1);
    EXPECT_EQ(slice.heads, heads);
    const int64_t row_bytes = heads * tokens * element_size;
    EXPECT_LE(slice.queries * row_bytes, kAttentionAutoBudgetBytes) << element_size;
    const int64_t chunks = (tokens + slice.queries - 1) / slice.queries;
    EXPECT_GT((tokens + chunks - 2) / (chunks - 1) * row_bytes, kAttentionAutoBudgetBytes)
        << "one chunk fewer would exceed the budget; element size " << element_size;
  }
  // Keys so long that one query row of every head exceeds the budget: one head at a time.
  const int64_t keys = kAttentionAutoBudgetBytes / (24 * 4) + 1;
  const AttentionSlice huge = attention_slice(slicing("auto"), 2, 24, 100, keys, 4);
  EXPECT_EQ(huge.batch, 1);
  EXPECT_EQ(huge.heads, 1);
  EXPECT_LE(huge.queries * keys * 4, kAttentionAutoBudgetBytes);
  EXPECT_GE(huge.queries, 1);
}

TEST(Attention, OffIsBitIdenticalToTheReferenceFormula) {
  at::manual_seed(11);
  const at::Tensor q = at::randn({1, 2, 37, 16});
  const at::Tensor k = at::randn({1, 2, 41, 16});
  const at::Tensor v = at::randn({1, 2, 41, 16});
  const at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(16.0));
  EXPECT_TRUE(attention(q, k, v).equal(at::matmul(at::softmax(scores, -1), v)));
  EXPECT_TRUE(attention(q, k, v, slicing("off")).equal(attention(q, k, v)));
}

TEST(Attention, SlicedEqualsUnslicedWithin1e5) {
  const std::vector<std::vector<int64_t>> shapes = {
      // batch, heads, queries, keys, head dim
      {1, 2, 37, 41, 16},
      {2, 3, 129, 64, 8},
      {1, 1, 2500, 300, 32},  // more than one "max" query block, uneven last block
      {3, 4, 5, 7, 64},
  };
  for (const auto& shape : shapes) {
    at::manual_seed(shape[2]);
    const at::Tensor q = at::randn({shape[0], shape[1], shape[2], shape[4]});
    const at::Tensor k = at::randn({shape[0], shape[1], shape[3], shape[4]});
    const at::Tensor v = at::randn({shape[0], shape[1], shape[3], shape[4]});
    const at::Tensor whole = attention(q, k, v);
    for (const std::string setting : {"auto", "max", "1", "2", "3", "7", "100000"}) {
      const at::Tensor sliced = attention(q, k, v, slicing(setting));
      ASSERT_EQ(sliced.sizes(), whole.sizes()) << setting;
      EXPECT_LE((sliced - whole).abs().max().item<double>(), 1e-5)
          << "setting " << setting << ", queries " << shape[2];
    }
  }
}

TEST(Attention, SlicingAcceptsNonContiguousViews) {
  at::manual_seed(5);
  const at::Tensor q = at::randn({1, 40, 3, 16}).transpose(1, 2);
  const at::Tensor k = at::randn({1, 40, 3, 16}).transpose(1, 2);
  const at::Tensor v = at::randn({1, 40, 3, 16}).transpose(1, 2);
  const at::Tensor whole = attention(q.contiguous(), k.contiguous(), v.contiguous());
  for (const std::string setting : {"max", "6"}) {
    EXPECT_LE((attention(q, k, v, slicing(setting)) - whole).abs().max().item<double>(), 1e-5)
        << setting;
  }
}

// Counts the bytes live in CPU tensors while installed, to measure peak memory of one call.
class PeakCpuMemory : public c10::Allocator {
 public:
  PeakCpuMemory() : base_(c10::GetDefaultCPUAllocator()) {}

  // Runs `fn` with this allocator installed and returns the peak bytes allocated during it.
  template <typename Fn>
  int64_t measure(Fn fn) {
    peak_ = live_ = 0;
    c10::SetCPUAllocator(this, kPriority);
    fn();
    c10::SetCPUAllocator(base_, kPriority);
    return peak_;
  }

  c10::DataPtr allocate(size_t bytes) const override {
    auto* block = new Block{base_->allocate(bytes), static_cast<int64_t>(bytes), this};
    const int64_t live = live_ += block->bytes;
    int64_t peak = peak_.load();
    while (live > peak && !peak_.compare_exchange_weak(peak, live)) {
    }
    return {block->data.get(), block, &release, block->data.device()};
  }
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }

 private:
  static constexpr uint8_t kPriority = 100;
  struct Block {
    c10::DataPtr data;
    int64_t bytes;
    const PeakCpuMemory* owner;
  };
  static void release(void* context) {
    auto* block = static_cast<Block*>(context);
    block->owner->live_ -= block->bytes;
    delete block;
  }

  c10::Allocator* base_;
  mutable std::atomic<int64_t> live_{0};
  mutable std::atomic<int64_t> peak_{0};
};

TEST(Attention, SlicingCutsPeakMemory) {
  static PeakCpuMemory memory;
  at::manual_seed(2);
  // A 64 MiB float32 score matrix: 4 heads x 2048 x 2048.
  const at::Tensor q = at::randn({1, 4, 2048, 64});
  const at::Tensor k = at::randn({1, 4, 2048, 64});
  const at::Tensor v = at::randn({1, 4, 2048, 64});
  const int64_t score_bytes = 4 * 2048 * 2048 * 4;
  const int64_t whole = memory.measure([&] { attention(q, k, v); });
  const int64_t chunks8 = memory.measure([&] { attention(q, k, v, slicing("8")); });
  const int64_t max = memory.measure([&] { attention(q, k, v, slicing("max")); });
  ::testing::Test::RecordProperty("peak_bytes_off", std::to_string(whole));
  ::testing::Test::RecordProperty("peak_bytes_8_chunks", std::to_string(chunks8));
  ::testing::Test::RecordProperty("peak_bytes_max", std::to_string(max));
  std::cout << "attention peak CPU bytes for [1, 4, 2048, 64]: off " << whole << ", 8 chunks "
            << chunks8 << ", max " << max << "\n";
  EXPECT_GE(whole, score_bytes) << "the unsliced call holds the whole score matrix";
  EXPECT_LT(chunks8 * 4, whole) << "8 query chunks hold 1/8 of it at a time";
  EXPECT_LT(max * 4, whole) << "one head of 1024 queries holds 1/8 of it at a time";
}

}  // namespace
}  // namespace flx::flux
