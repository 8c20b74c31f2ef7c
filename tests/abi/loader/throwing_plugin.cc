// Broken on purpose, but safely: written with the C++ wrapper, its generate() throws a
// std::runtime_error, its create() throws for `throw_on_create: true`, and a third type throws
// something that is not a std::exception. The wrapper must turn every one into an flx_error.
#include <flx/plugin.hpp>

#include <stdexcept>

namespace {

class ThrowingPipeline : public flx::Pipeline {
 public:
  explicit ThrowingPipeline(const flx::StageContext& ctx) {
    if (ctx.config.get_bool("throw_on_create", false)) {
      throw std::runtime_error("create threw as configured");
    }
  }
  void generate(const flx_request&, flx_result*) override {
    throw std::runtime_error("generate threw a std::runtime_error");
  }
};

class ThrowingAnything : public flx::Pipeline {
 public:
  explicit ThrowingAnything(const flx::StageContext&) {}
  void generate(const flx_request&, flx_result*) override { throw 42; }
};

}  // namespace

FLX_PLUGIN("throwing", "1.0.0", flx::pipeline_factory<ThrowingPipeline>("throws", "1.0.0"),
           flx::pipeline_factory<ThrowingAnything>("throws_int", "1.0.0"))
