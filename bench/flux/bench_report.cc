#include "bench_report.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace flx::bench {
namespace {

double ratio(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator : 0;
}

template <class Field>
double median_of(const std::vector<RunSample>& samples, Field field) {
  std::vector<double> values;
  for (const RunSample& sample : samples) values.push_back(static_cast<double>(field(sample)));
  return median(values);
}

std::string line(const char* label, const char* format, double value) {
  char text[160];
  std::snprintf(text, sizeof(text), "  %-28s ", label);
  std::string out = text;
  std::snprintf(text, sizeof(text), format, value);
  return out + text + "\n";
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

BenchReport summarize(const BenchSetup& setup, const std::vector<RunSample>& samples) {
  if (samples.empty()) throw std::invalid_argument("a benchmark report needs at least one run");
  BenchReport report;
  report.setup = setup;
  report.runs = static_cast<int>(samples.size());
  report.tokenize_seconds = median_of(samples, [](const RunSample& s) { return s.tokenize_seconds; });
  report.text_encode_seconds =
      median_of(samples, [](const RunSample& s) { return s.text_encode_seconds; });
  std::vector<double> steps;
  for (const RunSample& sample : samples) {
    steps.insert(steps.end(), sample.step_seconds.begin(), sample.step_seconds.end());
  }
  report.step_seconds = median(steps);
  for (size_t i = 0;; ++i) {
    std::vector<double> values;
    for (const RunSample& sample : samples) {
      if (i < sample.step_seconds.size()) values.push_back(sample.step_seconds[i]);
    }
    if (values.empty()) break;
    report.each_step_seconds.push_back(median(values));
  }
  report.denoise_seconds = median_of(samples, [](const RunSample& s) { return s.denoise_seconds; });
  report.vae_decode_seconds =
      median_of(samples, [](const RunSample& s) { return s.vae_decode_seconds; });
  report.png_encode_seconds =
      median_of(samples, [](const RunSample& s) { return s.png_encode_seconds; });
  report.total_seconds = median_of(samples, [](const RunSample& s) { return s.total_seconds; });
  report.minor_faults = median_of(samples, [](const RunSample& s) { return s.minor_faults; });
  report.major_faults = median_of(samples, [](const RunSample& s) { return s.major_faults; });
  report.vae_decode_minor_faults =
      median_of(samples, [](const RunSample& s) { return s.vae_decode_minor_faults; });

  report.transformer_gflops = ratio(setup.transformer_step_flops, report.step_seconds) / 1e9;
  report.roof_ratio = ratio(report.transformer_gflops, setup.roof_gflops);
  report.vae_decode_gflops = ratio(setup.vae_decode_flops, report.vae_decode_seconds) / 1e9;
  report.vae_roof_ratio = ratio(report.vae_decode_gflops, setup.roof_gflops);
  report.peak_rss_to_weights = ratio(static_cast<double>(setup.peak_rss_bytes),
                                     static_cast<double>(setup.weights_bytes));
  return report;
}

std::string report_json(const BenchReport& r) {
  const BenchSetup& s = r.setup;
  Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  object.set("model", s.model);
  object.set("device", s.device);
  object.set("dtype", s.dtype);
  object.set("threads", s.threads);
  object.set("blas", s.blas);
  object.set("width", s.width);
  object.set("height", s.height);
  object.set("steps", s.steps);
  object.set("image_tokens", s.image_tokens);
  object.set("text_tokens", s.text_tokens);
  object.set("runs", r.runs);
  object.set("warmup_runs", s.warmup_runs);
  object.set("load_seconds", s.load_seconds);
  object.set("tokenize_seconds", r.tokenize_seconds);
  object.set("text_encode_seconds", r.text_encode_seconds);
  object.set("step_seconds", r.step_seconds);
  Poco::JSON::Array::Ptr each = new Poco::JSON::Array;
  for (double seconds : r.each_step_seconds) each->add(seconds);
  object.set("each_step_seconds", each);
  object.set("denoise_seconds", r.denoise_seconds);
  object.set("vae_decode_seconds", r.vae_decode_seconds);
  object.set("png_encode_seconds", r.png_encode_seconds);
  object.set("total_seconds", r.total_seconds);
  object.set("transformer_step_gflop", s.transformer_step_flops / 1e9);
  object.set("transformer_gflops", r.transformer_gflops);
  object.set("vae_decode_gflop", s.vae_decode_flops / 1e9);
  object.set("vae_decode_gflops", r.vae_decode_gflops);
  object.set("roof_shape", s.roof_shape);
  object.set("roof_gflops", s.roof_gflops);
  object.set("roof_ratio", r.roof_ratio);
  object.set("vae_roof_ratio", r.vae_roof_ratio);
  object.set("peak_rss_bytes", s.peak_rss_bytes);
  object.set("weights_bytes", s.weights_bytes);
  Poco::JSON::Object::Ptr quantization = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  quantization->set("quantize", s.quantize);
  for (const auto& [component, types] : s.tensor_types) {
    Poco::JSON::Object::Ptr held = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [type, count] : types) held->set(type, count);
    quantization->set(component, held);
  }
  object.set("quantization", quantization);
  object.set("dequant_seconds", s.dequant_seconds);
  object.set("peak_rss_to_weights", r.peak_rss_to_weights);
  object.set("minor_faults", r.minor_faults);
  object.set("major_faults", r.major_faults);
  object.set("vae_decode_minor_faults", r.vae_decode_minor_faults);
  object.set("buffer_pool", s.buffer_pool);
  object.set("buffer_pool_hits", s.buffer_pool_hits);
  object.set("buffer_pool_misses", s.buffer_pool_misses);
  object.set("buffer_pool_idle_bytes", s.buffer_pool_idle_bytes);
  object.set("buffer_pool_peak_live_bytes", s.buffer_pool_peak_live_bytes);
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

std::string report_table(const BenchReport& r) {
  const BenchSetup& s = r.setup;
  std::ostringstream out;
  out << "fluxserve bench: " << s.model << "\n"
      << "  " << s.width << "x" << s.height << ", " << s.steps << " steps, " << s.image_tokens
      << " image + " << s.text_tokens << " text tokens; " << s.device << ", " << s.dtype << ", "
      << s.threads << " threads, BLAS " << s.blas << "\n"
      << "  medians of " << r.runs << " runs after " << s.warmup_runs << " warm-up\n\n";
  out << line("load", "%.3f s", s.load_seconds);
  out << line("tokenize", "%.4f s", r.tokenize_seconds);
  out << line("text encode", "%.3f s", r.text_encode_seconds);
  out << line("denoise step (median)", "%.3f s", r.step_seconds);
  for (size_t i = 0; i < r.each_step_seconds.size(); ++i) {
    const std::string label = "  step " + std::to_string(i + 1);
    out << line(label.c_str(), "%.3f s", r.each_step_seconds[i]);
  }
  out << line("denoise (all steps)", "%.3f s", r.denoise_seconds);
  out << line("VAE decode", "%.3f s", r.vae_decode_seconds);
  out << line("PNG encode", "%.4f s", r.png_encode_seconds);
  out << line("whole image", "%.3f s", r.total_seconds);
  out << "\n";
  out << line("roof (matmul)", "%.1f GFLOP/s", s.roof_gflops);
  out << "  " << std::string(29, ' ') << "(best " << s.roof_shape << " product, " << s.dtype
      << ")\n";
  out << line("transformer step", "%.2f GFLOP", s.transformer_step_flops / 1e9);
  out << line("transformer achieved", "%.1f GFLOP/s", r.transformer_gflops);
  out << line("transformer / roof", "%.2f", r.roof_ratio);
  out << line("VAE decode", "%.2f GFLOP", s.vae_decode_flops / 1e9);
  out << line("VAE achieved", "%.1f GFLOP/s", r.vae_decode_gflops);
  out << line("VAE / roof", "%.2f", r.vae_roof_ratio);
  out << "\n";
  out << line("peak RSS", "%.2f GB", static_cast<double>(s.peak_rss_bytes) / 1e9);
  out << line("weights", "%.2f GB", static_cast<double>(s.weights_bytes) / 1e9);
  out << "  " << std::string("quantize") + std::string(21, ' ') << s.quantize << "\n";
  out << line("dequantization per image", "%.3f s", s.dequant_seconds);
  out << line("peak RSS / weights", "%.2f", r.peak_rss_to_weights);
  out << line("page faults per image", "%.0f minor", r.minor_faults);
  out << line("  of which VAE decode", "%.0f minor", r.vae_decode_minor_faults);
  out << line("major faults per image", "%.0f", r.major_faults);
  out << "  " << std::string(29, ' ') << "buffer pool "
      << (s.buffer_pool ? "on: " + std::to_string(s.buffer_pool_hits) + " hits, " +
                              std::to_string(s.buffer_pool_misses) + " misses, " +
                              std::to_string(s.buffer_pool_peak_live_bytes >> 20) +
                              " MiB live peak, " + std::to_string(s.buffer_pool_idle_bytes >> 20) +
                              " MiB idle"
                        : std::string("off"))
      << "\n";
  return out.str();
}

}  // namespace flx::bench
