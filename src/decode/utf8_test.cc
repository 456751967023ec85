#include "decode/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace ariadne::decode {
namespace {

TEST(Utf8Test, AcceptsWellFormed) {
  for (std::string s :
       {std::string(), std::string("plain ascii"), std::string("\0embedded nul", 13),
        std::string("h\xc3\xa9llo"),      // U+00E9
        std::string("\xe2\x9c\x93"),      // U+2713
        std::string("\xef\xbf\xbd"),      // U+FFFD
        std::string("\xf0\x9f\x9b\x92"),  // U+1F6D2
        std::string("\xf4\x8f\xbf\xbf"),  // U+10FFFF
        std::string("\xed\x9f\xbf")}) {   // U+D7FF
    EXPECT_TRUE(IsValidUtf8(s)) << s;
  }
}

TEST(Utf8Test, RejectsMalformed) {
  for (std::string s : {std::string("\xff"), std::string("\x80"),
                        std::string("a\xc3"),             // truncated
                        std::string("\xc0\x80"),          // overlong NUL
                        std::string("\xc1\xbf"),          // overlong
                        std::string("\xe0\x80\x80"),      // overlong
                        std::string("\xf0\x80\x80\x80"),  // overlong
                        std::string("\xed\xa0\x80"),      // surrogate
                        std::string("\xed\xbf\xbf"),      // surrogate
                        std::string("\xf4\x90\x80\x80"),  // > U+10FFFF
                        std::string("\xf8\x88\x80\x80\x80"), std::string("\xe2\x9c"),
                        std::string("\xe2\x28\xa1")}) {
    EXPECT_FALSE(IsValidUtf8(s)) << s;
  }
}

TEST(Utf8Test, FindsProblemsAtEveryOffset) {
  // Exercise the ASCII word loop, the tail loop and the hand-off between
  // them at every position.
  for (size_t len = 1; len < 80; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string s(len, 'a');
      s[pos] = '\xff';
      EXPECT_FALSE(IsValidUtf8(s)) << len << " " << pos;
      if (pos + 2 <= len) {
        s[pos] = '\xc3';
        s[pos + 1] = '\xa9';
        EXPECT_TRUE(IsValidUtf8(s)) << len << " " << pos;
      }
    }
  }
}

}  // namespace
}  // namespace ariadne::decode
