#include "common/prom_text.h"

#include <gtest/gtest.h>

namespace ariadne {
namespace {

TEST(MergeLabeledExpositionsTest, GroupsFamiliesAndLabelsEverySample) {
  const std::string a =
      "# HELP x_total Xs.\n# TYPE x_total counter\nx_total 1\n"
      "# HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 3\nh_count 2\n";
  const std::string b =
      "# HELP x_total Xs.\n# TYPE x_total counter\nx_total{protocol=\"grpc\"} 5\n"
      "# HELP y A gauge.\n# TYPE y gauge\ny{} 7\n";
  const std::string merged = MergeLabeledExpositions("tenant", {{"acme", a}, {"glo\"bex", b}});
  EXPECT_EQ(merged,
            "# HELP x_total Xs.\n# TYPE x_total counter\n"
            "x_total{tenant=\"acme\"} 1\n"
            "x_total{tenant=\"glo\\\"bex\",protocol=\"grpc\"} 5\n"
            "# HELP h A histogram.\n# TYPE h histogram\n"
            "h_bucket{tenant=\"acme\",le=\"1\"} 2\nh_sum{tenant=\"acme\"} 3\nh_count{tenant=\"acme\"} 2\n"
            "# HELP y A gauge.\n# TYPE y gauge\ny{tenant=\"glo\\\"bex\"} 7\n");
}

TEST(MergeLabeledExpositionsTest, NothingInNothingOut) {
  EXPECT_EQ(MergeLabeledExpositions("tenant", {}), "");
  EXPECT_EQ(MergeLabeledExpositions("tenant", {{"a", ""}, {"b", "# just a comment\n"}}), "");
}

}  // namespace
}  // namespace ariadne
