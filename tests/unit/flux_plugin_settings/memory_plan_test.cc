#include "memory_plan.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "support/temp_dir.h"

namespace flx::flux {
namespace {

TEST(ParseByteSizeTest, ReadsSizesWithUnits) {
  struct Case {
    const char* text;
    int64_t bytes;
  };
  for (const Case& c : {Case{"1500000000", 1500000000}, Case{"16GiB", int64_t{16} << 30},
                        Case{"512 MiB", int64_t{512} << 20}, Case{"1.5GB", 1500000000},
                        Case{"2kb", 2000}, Case{"3KiB", 3072}, Case{"1TiB", int64_t{1} << 40},
                        Case{"100b", 100}, Case{"16gib", int64_t{16} << 30}}) {
    EXPECT_EQ(parse_byte_size("memory_budget", c.text), c.bytes) << c.text;
  }
  EXPECT_EQ(parse_byte_size("memory_budget", "auto"), std::nullopt);
  EXPECT_EQ(parse_byte_size("memory_budget", "AUTO"), std::nullopt);
}

TEST(ParseByteSizeTest, RefusesWhatIsNotASizeNamingTheKey) {
  for (const char* text : {"", "0", "-5GiB", "16 GiBs", "lots", "1.2.3GB", "GiB", "0.1", "1e3"}) {
    try {
      parse_byte_size("buffer_pool_idle_max", text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("buffer_pool_idle_max must be auto or a size"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(FormatBytesTest, PicksAReadableUnit) {
  EXPECT_EQ(format_bytes(900), "900 B");
  EXPECT_EQ(format_bytes(int64_t{512} << 20), "512.0 MiB");
  EXPECT_EQ(format_bytes(int64_t{3} << 29), "1.50 GiB");
}

TEST(MachineMemoryTest, SmallerOfMemTotalAndTheCgroupLimit) {
  test::TempDir dir;
  dir.write("meminfo", "MemTotal:       24576000 kB\nMemFree:        1000 kB\n");
  dir.write("max_v2", "max\n");
  dir.write("limit", "8589934592\n");
  dir.write("v1_unlimited", "9223372036854771712\n");
  const std::string meminfo = dir.path() + "/meminfo";
  EXPECT_EQ(machine_memory_bytes(meminfo, {}), int64_t{24576000} * 1024);
  EXPECT_EQ(machine_memory_bytes(meminfo, {dir.path() + "/max_v2", dir.path() + "/v1_unlimited"}),
            int64_t{24576000} * 1024);
  EXPECT_EQ(machine_memory_bytes(meminfo, {dir.path() + "/limit"}), int64_t{8589934592});
  EXPECT_EQ(machine_memory_bytes(dir.path() + "/none", {dir.path() + "/none"}), 0);
}

TEST(ResolveMemoryBudgetTest, AutoIsAShareOfTheDeviceAndThePoolAQuarterOfIt) {
  const int64_t device = int64_t{20} << 30;
  MemoryBudget auto_budget = resolve_memory_budget("auto", "auto", device, "cpu memory");
  EXPECT_EQ(auto_budget.budget_bytes, static_cast<int64_t>(double(device) * 0.85));
  EXPECT_EQ(auto_budget.budget_reason, "auto: 85% of 20.00 GiB (cpu memory)");
  EXPECT_EQ(auto_budget.pool_idle_max_bytes, auto_budget.budget_bytes / 4);
  MemoryBudget set = resolve_memory_budget("8GiB", "1GiB", device, "cpu memory");
  EXPECT_EQ(set.budget_bytes, int64_t{8} << 30);
  EXPECT_EQ(set.budget_reason, "memory_budget");
  EXPECT_EQ(set.pool_idle_max_bytes, int64_t{1} << 30);
  EXPECT_THROW(resolve_memory_budget("auto", "auto", 0, "cuda:0 memory"), std::invalid_argument);
  EXPECT_NO_THROW(resolve_memory_budget("4GiB", "auto", 0, "cuda:0 memory"));
}

// A made-up estimator: the unsliced attention costs 100, sliced 40, tiling takes 30 more off.
ActivationEstimate FakeEstimate(const EstimateInputs& in) {
  ActivationEstimate e;
  e.denoise_bytes = in.attention.slicing == AttentionOptions::Slicing::kOff ? 100 : 40;
  e.vae_decode_bytes = in.vae.tiling ? 10 : 60;
  if (in.attention.slicing == AttentionOptions::Slicing::kMax) e.vae_decode_bytes = 5;
  return e;
}

TEST(FitRequestTest, RefusesOrFitsWithTheCheapestKnobs) {
  const EstimateInputs in;
  FitDecision ample = fit_request(in, 10, 200, false, FakeEstimate);
  EXPECT_TRUE(ample.fits);
  EXPECT_EQ(ample.adjustment, "");
  EXPECT_EQ(ample.estimate.peak_bytes(), 100);

  EXPECT_FALSE(fit_request(in, 10, 80, false, FakeEstimate).fits) << "refuse: no adjusting";
  FitDecision sliced = fit_request(in, 10, 80, true, FakeEstimate);
  EXPECT_TRUE(sliced.fits);
  EXPECT_EQ(sliced.adjustment, "attention_slicing=auto");
  EXPECT_EQ(sliced.attention.slicing, AttentionOptions::Slicing::kAuto);
  EXPECT_FALSE(sliced.vae.tiling);
  FitDecision tiled = fit_request(in, 10, 55, true, FakeEstimate);
  EXPECT_EQ(tiled.adjustment, "attention_slicing=auto,vae_tiling=true");
  EXPECT_TRUE(tiled.vae.tiling);
  FitDecision none = fit_request(in, 100, 120, true, FakeEstimate);
  EXPECT_FALSE(none.fits);
  EXPECT_EQ(none.adjustment, "attention_slicing=max,vae_tiling=true");
}

TEST(FitRequestTest, OverBudgetMessageSaysWhatAndWhatToDo) {
  ActivationEstimate e;
  e.denoise_bytes = int64_t{3} << 30;
  e.vae_decode_bytes = int64_t{1} << 30;
  const std::string refused = over_budget_message(2048, 2048, int64_t{1} << 30, e,
                                                  int64_t{2} << 30, false);
  EXPECT_EQ(refused,
            "a 2048x2048 image needs about 4.00 GiB (weights 1.00 GiB + 3.00 GiB of activations "
            "at the peak of denoising), more than this model's memory budget of 2.00 GiB; ask "
            "for a smaller size, or let the operator set attention_slicing / vae_tiling or "
            "over_budget: fit");
  EXPECT_NE(over_budget_message(64, 64, 0, e, 1, true).find("even with attention_slicing max"),
            std::string::npos);
}

TEST(FitRequestTest, LoraOverBudgetMessageNamesTheSetAndItsSize) {
  ActivationEstimate e;
  e.denoise_bytes = int64_t{1} << 30;
  EXPECT_EQ(lora_over_budget_message("grain:0.8,ink:1", int64_t{3} << 29, int64_t{2} << 30, e,
                                     int64_t{4} << 30),
            "the LoRA set grain:0.8,ink:1 needs 1.50 GiB for its merged layers; with the weights "
            "(2.00 GiB) and this request's activations (1.00 GiB) that is more than this model's "
            "memory budget of 4.00 GiB; ask for fewer adapters or a smaller size, or let the "
            "operator raise memory_budget");
}

}  // namespace
}  // namespace flx::flux
