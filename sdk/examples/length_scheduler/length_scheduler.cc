// flx_length_scheduler: a scheduler of type `by_length` that admits every request at once
// unless its prompt is longer than `max_prompt_chars` characters (config, default 1000).
//
// It holds no queue and no lock, so it is thread-safe by construction; put a `fifo` stage in
// front of it when requests must also wait their turn.
#include <cstdint>
#include <flx/plugin.hpp>
#include <string>

namespace {

// Counts UTF-8 code points: every byte that does not continue a multi-byte sequence.
int64_t CountCharacters(const char* text) {
  int64_t count = 0;
  for (const char* p = text; *p != '\0'; ++p) {
    if ((static_cast<unsigned char>(*p) & 0xC0) != 0x80) ++count;
  }
  return count;
}

class LengthScheduler final : public flx::Scheduler {
 public:
  explicit LengthScheduler(const flx::StageContext& context)
      : max_prompt_chars_(context.config.get_int("max_prompt_chars", 1000)) {
    if (max_prompt_chars_ < 0) {
      throw context.config.error("max_prompt_chars must be >= 0, got " +
                                 std::to_string(max_prompt_chars_));
    }
  }

  // An admission holds nothing, so the ticket is the scheduler itself.
  void* admit(const flx_request& request, const flx_admission&) override {
    const int64_t length = CountCharacters(request.prompt);
    if (length > max_prompt_chars_) {
      throw flx::Error(FLX_INVALID_ARGUMENT, "the prompt has " + std::to_string(length) +
                                                 " characters; at most " +
                                                 std::to_string(max_prompt_chars_) + " are allowed")
          .detail("param", "prompt");
    }
    return this;
  }

  void release(void*, double) override {}

  std::string describe() override {
    return "{\"type\":\"by_length\",\"max_prompt_chars\":" + std::to_string(max_prompt_chars_) +
           "}";
  }

 private:
  const int64_t max_prompt_chars_;
};

}  // namespace

FLX_PLUGIN("flx_length_scheduler", "1.0.0",
           flx::scheduler_factory<LengthScheduler>("by_length", "1.0.0", FLX_FLAG_THREADSAFE))
