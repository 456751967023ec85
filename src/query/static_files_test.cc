#include "query/static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/temp_dir.h"

namespace ariadne::query {
namespace {

void Write(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string Header(const serve::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    root_ = std::filesystem::path(dir_.path()) / "dist";
    Write(root_ / "index.html", "<html>app</html>");
    Write(root_ / "assets" / "index-abc123.js", "console.log(1)");
    Write(root_ / "favicon.svg", "<svg/>");
    Write(std::filesystem::path(dir_.path()) / "secret.txt", "secret");
  }
  TempDir dir_;
  std::filesystem::path root_;
};

TEST_F(StaticFilesTest, ServesFilesWithTypesAndCaching) {
  StaticFiles files(root_.string());
  auto js = files.Serve("/assets/index-abc123.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(js, "Cache-Control"), "public, max-age=31536000, immutable");
  auto svg = files.Serve("/favicon.svg");
  EXPECT_EQ(svg.status, 200);
  EXPECT_EQ(svg.content_type, "image/svg+xml");
  EXPECT_EQ(Header(svg, "Cache-Control"), "no-cache");
}

TEST_F(StaticFilesTest, AppRoutesGetTheIndex) {
  StaticFiles files(root_.string() + "/");
  for (const char* path : {"/", "", "/search", "/trace/0af7651916cd43dd8448eb211c80319c"}) {
    auto r = files.Serve(path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "<html>app</html>") << path;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << path;
  }
}

TEST_F(StaticFilesTest, MissingAssetIsNotFound) {
  StaticFiles files(root_.string());
  EXPECT_EQ(files.Serve("/assets/index-old.js").status, 404);
}

TEST_F(StaticFilesTest, NeverLeavesTheRoot) {
  StaticFiles files(root_.string());
  for (const char* path : {"/../secret.txt", "/assets/../../secret.txt", "/..", "/a\\..\\secret.txt",
                           "//secret.txt", "/./secret.txt"}) {
    auto r = files.Serve(path);
    EXPECT_NE(r.body, "secret") << path;
  }
  // A symbolic link inside the root that points outside it is not followed.
  std::filesystem::create_symlink(std::filesystem::path(dir_.path()) / "secret.txt",
                                  root_ / "link.txt");
  auto r = files.Serve("/link.txt");
  EXPECT_NE(r.body, "secret");
  // A directory is not a file: the app answers.
  EXPECT_EQ(files.Serve("/assets").body, "<html>app</html>");
}

TEST_F(StaticFilesTest, UnbuiltUiSaysSo) {
  StaticFiles files((std::filesystem::path(dir_.path()) / "nothing").string());
  auto r = files.Serve("/");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("not built"), std::string::npos);
}

}  // namespace
}  // namespace ariadne::query
