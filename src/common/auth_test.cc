#include "common/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace ariadne {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ariadne-auth-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name, const std::string& content) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::trunc) << content;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(BearerTokenTest, ParsesTheScheme) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer   abc "), "abc");
  EXPECT_EQ(BearerToken("BEARER abc"), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(TokenSetTest, NothingConfiguredIsOpen) {
  auto set = TokenSet::Create({"query", {}, {}});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE((*set)->open());
  EXPECT_TRUE((*set)->Check(""));
  EXPECT_TRUE((*set)->Check("Bearer anything"));
  EXPECT_EQ((*set)->rejected(), 0u);
}

TEST(TokenSetTest, StaticTokensCompareExactly) {
  auto set = TokenSet::Create({"ingest", {"s3cret", "other-token"}, {}});
  ASSERT_TRUE(set.ok());
  TokenSet& s = **set;
  EXPECT_FALSE(s.open());
  EXPECT_TRUE(s.Check("Bearer s3cret"));
  EXPECT_TRUE(s.Check("Bearer other-token"));
  EXPECT_TRUE(s.CheckToken("s3cret"));
  // Prefixes, extensions, case changes, other schemes and nothing: refused.
  for (std::string_view bad : {"Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Basic s3cret",
                               "s3cret", "", "Bearer ", "Bearer other-token s3cret"}) {
    EXPECT_FALSE(s.Check(bad)) << bad;
  }
  EXPECT_FALSE(s.CheckToken(""));
  EXPECT_EQ(s.rejected(), 9u);
}

TEST(TokenSetTest, DigestsCompareAllBytes) {
  const TokenSet::Digest a = TokenSet::Sha256("a");
  EXPECT_TRUE(TokenSet::DigestsEqual(a, TokenSet::Sha256("a")));
  // A difference in the last byte only is found too (no prefix compare).
  TokenSet::Digest b = a;
  b.back() ^= 1;
  EXPECT_FALSE(TokenSet::DigestsEqual(a, b));
  b = a;
  b.front() ^= 0x80;
  EXPECT_FALSE(TokenSet::DigestsEqual(a, b));
}

TEST(TokenSetTest, BadStaticTokensAreRefused) {
  auto empty = TokenSet::Create({"query", {""}, {}});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(std::string(empty.status().message()).find("auth.query_tokens"), std::string::npos);
  EXPECT_FALSE(TokenSet::Create({"query", {" padded"}, {}}).ok());
}

TEST(TokenSetTest, UnreadableFileIsNamed) {
  auto set = TokenSet::Create({"admin", {}, {"/nonexistent/ariadne-tokens"}});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kNotFound);
  const std::string message(set.status().message());
  EXPECT_NE(message.find("auth.admin_token_files"), std::string::npos) << message;
  EXPECT_NE(message.find("/nonexistent/ariadne-tokens"), std::string::npos) << message;
}

TEST(TokenSetTest, FileTokensOneALine) {
  TempDir dir;
  const std::string path = dir.File("tokens", "  first \n\n# not special\nsecond\r\n");
  auto set = TokenSet::Create({"ingest", {"static"}, {path}});
  ASSERT_TRUE(set.ok()) << set.status();
  TokenSet& s = **set;
  EXPECT_TRUE(s.Check("Bearer first"));
  EXPECT_TRUE(s.Check("Bearer second"));
  EXPECT_TRUE(s.Check("Bearer static"));
  EXPECT_TRUE(s.Check("Bearer # not special"));
  EXPECT_FALSE(s.Check("Bearer third"));
}

TEST(TokenSetTest, TenantBoundTokensAreValidForTheirTenantOnly) {
  TempDir dir;
  const std::string path = dir.File("tokens", "acme:file-a\nproxy\n:odd:token\n");
  TokenSetOptions o{"ingest", {"globex:static-g"}, {path}};
  o.tenant_bound = true;
  auto set = TokenSet::Create(o);
  ASSERT_TRUE(set.ok()) << set.status();
  TokenSet& s = **set;
  EXPECT_TRUE(s.Check("Bearer file-a", "acme"));
  EXPECT_FALSE(s.Check("Bearer file-a", "globex"));
  EXPECT_FALSE(s.Check("Bearer file-a", ""));
  EXPECT_FALSE(s.Check("Bearer acme:file-a", "acme"));  // the prefix is not part of it
  EXPECT_TRUE(s.Check("Bearer static-g", "globex"));
  EXPECT_FALSE(s.Check("Bearer static-g", "acme"));
  EXPECT_TRUE(s.Check("Bearer proxy", "acme"));  // unbound: every tenant
  EXPECT_TRUE(s.Check("Bearer proxy", "globex"));
  EXPECT_TRUE(s.Check("Bearer odd:token", "acme"));  // empty prefix: unbound
  EXPECT_EQ(s.rejected(), 4u);
}

TEST(TokenSetTest, WithoutTenantsAColonIsPartOfTheToken) {
  auto set = TokenSet::Create({"ingest", {"acme:secret"}, {}});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE((*set)->Check("Bearer acme:secret"));
  EXPECT_FALSE((*set)->Check("Bearer secret", "acme"));
}

TEST(TokenSetTest, EmptyFileAcceptsNothing) {
  TempDir dir;
  auto set = TokenSet::Create({"query", {}, {dir.File("tokens", "\n")}});
  ASSERT_TRUE(set.ok());
  EXPECT_FALSE((*set)->open());
  EXPECT_FALSE((*set)->Check("Bearer "));
  EXPECT_FALSE((*set)->Check(""));
}

TEST(TokenSetTest, ChangedFileIsReadAgain) {
  TempDir dir;
  const std::string path = dir.File("tokens", "old\n");
  TokenSetOptions o{"ingest", {}, {path}};
  o.reload_interval = std::chrono::milliseconds(0);  // look at every check
  auto set = TokenSet::Create(o);
  ASSERT_TRUE(set.ok());
  TokenSet& s = **set;
  EXPECT_TRUE(s.Check("Bearer old"));
  // Rotation by renaming a new file over the old one: a new inode.
  const std::string next = dir.File("tokens.next", "new\n");
  std::filesystem::rename(next, path);
  EXPECT_TRUE(s.Check("Bearer new"));
  EXPECT_FALSE(s.Check("Bearer old"));
  EXPECT_EQ(s.reloads(), 1u);
  // Rewritten in place with a different size.
  dir.File("tokens", "new\nnewer\n");
  EXPECT_TRUE(s.Check("Bearer newer"));
  EXPECT_EQ(s.reloads(), 2u);
  // Removed: the last tokens stay (a rotation half done locks nobody out).
  std::filesystem::remove(path);
  EXPECT_TRUE(s.Check("Bearer newer"));
  EXPECT_GE(s.reload_failures(), 1u);
}

TEST(TokenSetTest, FilesAreNotLookedAtMoreOftenThanTheInterval) {
  TempDir dir;
  const std::string path = dir.File("tokens", "old\n");
  TokenSetOptions o{"ingest", {}, {path}};
  o.reload_interval = std::chrono::hours(1);
  auto set = TokenSet::Create(o);
  ASSERT_TRUE(set.ok());
  dir.File("tokens", "brand-new\n");
  // Within the interval the file is not read again.
  EXPECT_TRUE((*set)->Check("Bearer old"));
  EXPECT_FALSE((*set)->Check("Bearer brand-new"));
  EXPECT_EQ((*set)->reloads(), 0u);
}

}  // namespace
}  // namespace ariadne
