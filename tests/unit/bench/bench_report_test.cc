// `fluxserve bench` medians, rates, ratios and JSON keys (bench_report.h).
#include "bench_report.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace flx::bench {
namespace {

TEST(BenchReportTest, MedianOfOddAndEvenCounts) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median({}), 0);
}

RunSample Sample(double scale) {
  RunSample s;
  s.tokenize_seconds = 0.001 * scale;
  s.text_encode_seconds = 0.5 * scale;
  s.step_seconds = {2 * scale, 2.2 * scale};
  s.denoise_seconds = 4.2 * scale;
  s.vae_decode_seconds = 4 * scale;
  s.png_encode_seconds = 0.01 * scale;
  s.total_seconds = 8.711 * scale;
  s.minor_faults = static_cast<int64_t>(1000 * scale);
  s.vae_decode_minor_faults = static_cast<int64_t>(800 * scale);
  return s;
}

BenchSetup MachineSetup() {
  BenchSetup setup;
  setup.transformer_step_flops = 200e9;
  setup.vae_decode_flops = 300e9;
  setup.roof_gflops = 125;
  setup.peak_rss_bytes = 6'000'000'000;
  setup.weights_bytes = 4'000'000'000;
  setup.dtype = "float32";
  setup.threads = 2;
  return setup;
}

TEST(BenchReportTest, RatesAndRatiosComeFromTheMedians) {
  // Runs at 1x, 1.5x and 1x speed: every median is the 1x figure; steps [2, 2.2] x3 runs ->
  // median of {2, 2.2, 3, 3.3, 2, 2.2} = 2.2.
  const BenchReport r = summarize(MachineSetup(), {Sample(1), Sample(1.5), Sample(1)});
  EXPECT_EQ(r.runs, 3);
  EXPECT_DOUBLE_EQ(r.text_encode_seconds, 0.5);
  EXPECT_DOUBLE_EQ(r.step_seconds, 2.2);
  ASSERT_EQ(r.each_step_seconds.size(), 2u);
  EXPECT_DOUBLE_EQ(r.each_step_seconds[0], 2);    // {2, 3, 2}
  EXPECT_DOUBLE_EQ(r.each_step_seconds[1], 2.2);  // {2.2, 3.3, 2.2}
  EXPECT_DOUBLE_EQ(r.vae_decode_seconds, 4);
  EXPECT_DOUBLE_EQ(r.total_seconds, 8.711);
  EXPECT_DOUBLE_EQ(r.minor_faults, 1000);
  EXPECT_DOUBLE_EQ(r.transformer_gflops, 200 / 2.2);
  EXPECT_DOUBLE_EQ(r.roof_ratio, 200 / 2.2 / 125);
  EXPECT_DOUBLE_EQ(r.vae_decode_gflops, 75);
  EXPECT_DOUBLE_EQ(r.vae_roof_ratio, 0.6);
  EXPECT_DOUBLE_EQ(r.peak_rss_to_weights, 1.5);
}

TEST(BenchReportTest, NoRunsIsRefused) {
  EXPECT_THROW(summarize(MachineSetup(), {}), std::invalid_argument);
}

TEST(BenchReportTest, JsonCarriesTheDocumentedKeys) {
  const BenchReport r = summarize(MachineSetup(), {Sample(1)});
  Poco::JSON::Parser parser;
  const auto json = parser.parse(report_json(r)).extract<Poco::JSON::Object::Ptr>();
  for (const char* key :
       {"step_seconds", "transformer_gflops", "roof_gflops", "roof_ratio", "vae_decode_gflops",
        "vae_roof_ratio", "text_encode_seconds", "vae_decode_seconds", "total_seconds",
        "peak_rss_bytes", "dtype", "threads", "tokenize_seconds", "png_encode_seconds",
        "minor_faults", "vae_decode_minor_faults", "load_seconds"}) {
    EXPECT_TRUE(json->has(key)) << key;
  }
  EXPECT_DOUBLE_EQ(json->getValue<double>("roof_ratio"), r.roof_ratio);
  ASSERT_FALSE(json->getArray("each_step_seconds").isNull());
  EXPECT_EQ(json->getArray("each_step_seconds")->size(), 2u);
  EXPECT_EQ(json->getValue<std::string>("dtype"), "float32");
  EXPECT_EQ(json->getValue<int>("threads"), 2);
  EXPECT_EQ(json->getValue<int64_t>("peak_rss_bytes"), 6'000'000'000);
}

TEST(BenchReportTest, JsonCarriesQuantizationAndDequantTime) {
  BenchSetup setup = MachineSetup();
  setup.quantize = "q4_k";
  setup.tensor_types["transformer"] = {{"Q4_K", 40}, {"BF16", 68}};
  setup.dequant_seconds = 0.25;
  const BenchReport r = summarize(setup, {Sample(1)});
  Poco::JSON::Parser parser;
  const auto json = parser.parse(report_json(r)).extract<Poco::JSON::Object::Ptr>();
  const auto quantization = json->getObject("quantization");
  ASSERT_FALSE(quantization.isNull());
  EXPECT_EQ(quantization->getValue<std::string>("quantize"), "q4_k");
  EXPECT_EQ(quantization->getObject("transformer")->getValue<int>("Q4_K"), 40);
  EXPECT_DOUBLE_EQ(json->getValue<double>("dequant_seconds"), 0.25);
  EXPECT_TRUE(json->has("weights_bytes"));
  EXPECT_NE(report_table(r).find("q4_k"), std::string::npos);
}

TEST(BenchReportTest, TableShowsTheRatios) {
  const std::string table = report_table(summarize(MachineSetup(), {Sample(1)}));
  EXPECT_NE(table.find("transformer / roof"), std::string::npos) << table;
  EXPECT_NE(table.find("step 2 "), std::string::npos) << "each step is listed: " << table;
  // One run: steps {2, 2.2} -> 2.1 s, 200 GFLOP / 2.1 s = 95.2 GFLOP/s, / 125 = 0.76.
  EXPECT_NE(table.find("0.76"), std::string::npos) << table;
  EXPECT_NE(table.find("VAE / roof                   0.60"), std::string::npos) << table;
}

}  // namespace
}  // namespace flx::bench
