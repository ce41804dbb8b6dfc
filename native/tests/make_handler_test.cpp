// make_handler(spec): the one place that maps a built-in handler's name to a handler. An
// embedder (the Node addon) only translates its options into a HandlerSpec; a name or a
// checksum the core does not know is refused here, with the bad value and the allowed ones.
#include <gtest/gtest.h>

#include <string>

#include "smc/handler.hpp"
#include "smc/isolated_plugin.hpp"
#include "smc/plugin_host.hpp"

namespace {

using namespace smc;

TEST(MakeHandler, RefusesAnUnknownNameNamingItAndTheBuiltIns) {
  HandlerSpec spec;
  spec.name = "bogus";
  std::string error;
  const MadeHandler made = make_handler(spec, &error);
  EXPECT_EQ(made.handler, nullptr);
  EXPECT_EQ(error, "handler must be 'echo', 'sink', 'source' or 'plugin', not \"bogus\"");
}

TEST(MakeHandler, MakesEveryNameItLists) {
  for (const std::string_view name : kHandlerNames) {
    HandlerSpec spec;
    spec.name = std::string(name);
    std::string error;
    EXPECT_NE(make_handler(spec, &error).handler, nullptr) << name << ": " << error;
  }
}

TEST(MakeHandler, RefusesAnUnknownSinkChecksumNamingItAndTheAllowedOnes) {
  HandlerSpec spec;
  spec.name = "sink";
  spec.checksum = "crc32";
  std::string error;
  EXPECT_EQ(make_handler(spec, &error).handler, nullptr);
  EXPECT_EQ(error, "checksum must be 'fnv1a' or 'sum32', not \"crc32\"");
}

TEST(MakeHandler, SinkAndSourceReportTheirTotals) {
  for (const char* name : {"sink", "source"}) {
    HandlerSpec spec;
    spec.name = name;
    std::string error;
    const MadeHandler made = make_handler(spec, &error);
    ASSERT_NE(made.handler, nullptr) << name << ": " << error;
    EXPECT_NE(made.totals, nullptr) << name;
  }
}

TEST(MakeHandler, PluginGivesAnEmptyInProcessSlot) {
  HandlerSpec spec;
  spec.name = "plugin";
  std::string error;
  const MadeHandler made = make_handler(spec, &error);
  ASSERT_NE(made.plugin, nullptr) << error;
  EXPECT_EQ(made.isolated, nullptr);
  EXPECT_FALSE(made.plugin->stats().loaded);
}

TEST(MakeHandler, PluginWithIsolateGivesAnIsolatedSlot) {
  HandlerSpec spec;
  spec.name = "plugin";
  spec.isolate = true;
  spec.plugin_host_path = "/nonexistent/smc_plugin_host";  // nothing starts before a load
  std::string error;
  const MadeHandler made = make_handler(spec, &error);
  ASSERT_NE(made.isolated, nullptr) << error;
  EXPECT_EQ(made.plugin, nullptr);
  EXPECT_EQ(made.isolated->child_pid(), -1);
}

TEST(MakeHandler, RefusesIsolateWithoutAPluginHost) {
  HandlerSpec spec;
  spec.name = "plugin";
  spec.isolate = true;
  std::string error;
  EXPECT_EQ(make_handler(spec, &error).handler, nullptr);
  EXPECT_EQ(error, "isolate needs the path of the smc_plugin_host executable");
}

}  // namespace
