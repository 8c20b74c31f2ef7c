// What tests tell the sanitizers of a sanitized build (scripts/test.sh --sanitize); no-ops
// otherwise.
#ifndef FLX_TESTS_SUPPORT_SANITIZERS_H_
#define FLX_TESTS_SUPPORT_SANITIZERS_H_

#if defined(__SANITIZE_ADDRESS__)
#define FLX_TEST_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLX_TEST_HAS_LSAN 1
#endif
#endif

#ifdef FLX_TEST_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace flx::testing {

// Marks `object` (a heap block) as leaked on purpose, e.g. a ticket a test abandons to model
// a process that exits while work is running.
inline void IgnoreIntentionalLeak(const void* object) {
#ifdef FLX_TEST_HAS_LSAN
  __lsan_ignore_object(object);
#else
  (void)object;
#endif
}

}  // namespace flx::testing

#endif  // FLX_TESTS_SUPPORT_SANITIZERS_H_
