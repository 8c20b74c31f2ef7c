#include "model/cancellation.h"

#include <gtest/gtest.h>

#include <thread>

namespace flx::flux {
namespace {

TEST(CancellationTest, PointsWithoutAScopeNeverThrow) {
  EXPECT_NO_THROW(cancellation_point("anywhere"));
}

TEST(CancellationTest, ThePointThrowsOnceTheScopeSaysSo) {
  int asked = 0;
  bool cancel = false;
  CancellationScope scope([&] {
    ++asked;
    return cancel;
  });
  EXPECT_NO_THROW(cancellation_point("in a block"));
  cancel = true;
  try {
    cancellation_point("in a block");
    FAIL() << "expected Cancelled";
  } catch (const Cancelled& e) {
    EXPECT_STREQ(e.what(), "generation cancelled in a block");
  }
  EXPECT_EQ(asked, 2);
}

TEST(CancellationTest, ScopesNestAndRestoreAndStayOnTheirThread) {
  CancellationScope outer([] { return true; });
  {
    CancellationScope inner([] { return false; });
    EXPECT_NO_THROW(cancellation_point("inner"));
    std::thread other([] { EXPECT_NO_THROW(cancellation_point("another thread")); });
    other.join();
  }
  EXPECT_THROW(cancellation_point("outer"), Cancelled);
  CancellationScope empty{std::function<bool()>()};
  EXPECT_THROW(cancellation_point("an empty scope keeps the outer one"), Cancelled);
}

}  // namespace
}  // namespace flx::flux
