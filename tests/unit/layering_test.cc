// The layering rule of docs/architecture.md, enforced: every `#include "…"` of gatewatch's own code
// points down (or within its own layer), never up or sideways, and production code never includes
// tests/. The rule is a table; the walker reads every source file under the top folders.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Layer {
  std::string_view name;    // as docs/architecture.md names it
  std::string_view prefix;  // files under this folder (most specific prefix wins)
  std::vector<std::string_view> may_include;
};

// Bottom to top. A folder not listed here (tests/) is not a layer and may include any of them.
const std::vector<Layer>& Layers() {
  static const std::vector<Layer> layers = {
      {"agent/base (gw_base)", "agent/base/", {"agent/base/"}},
      {"agent/io (gw_io)", "agent/io/", {"agent/base/", "agent/io/"}},
      {"checks/api (gw_check_api)", "checks/api/", {"agent/base/", "agent/io/", "checks/api/"}},
      {"checks (gw_checks)", "checks/", {"agent/base/", "agent/io/", "checks/api/", "checks/"}},
      {"exporters (gw_exporters)", "exporters/", {"agent/base/", "checks/api/", "exporters/"}},
      {"agent/scheduler (gw_scheduler)",
       "agent/scheduler/",
       {"agent/base/", "agent/io/", "checks/api/", "agent/scheduler/"}},
      {"agent (gw_agent)",
       "agent/",
       {"agent/", "checks/", "exporters/"}},  // the top: everything but tests/
  };
  return layers;
}

const Layer* LayerOf(std::string_view path) {
  const Layer* best = nullptr;
  for (const Layer& layer : Layers()) {
    if (path.starts_with(layer.prefix) &&
        (best == nullptr || layer.prefix.size() > best->prefix.size())) {
      best = &layer;
    }
  }
  return best;
}

// True when the layer of `include` lies under one of the folders `from` may include: "checks/"
// admits checks/api/ too, while "checks/api/" does not admit the check units in checks/.
bool Allowed(const Layer& from, std::string_view include) {
  const Layer* to = LayerOf(include);
  if (to == nullptr) return false;  // tests/ or an unknown root: never from production code
  return std::any_of(from.may_include.begin(), from.may_include.end(),
                     [&](std::string_view allowed) { return to->prefix.starts_with(allowed); });
}

struct SourceFile {
  std::string path;  // relative to the source root, e.g. "checks/http_check.cc"
  std::string text;
};

// One line per include that breaks the rule: "FILE:LINE: includes X: RULE".
std::vector<std::string> Violations(const std::vector<SourceFile>& files) {
  std::vector<std::string> out;
  for (const SourceFile& file : files) {
    const Layer* from = LayerOf(file.path);
    if (from == nullptr) continue;  // tests and tools may include any layer
    std::istringstream lines(file.text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      std::string_view l(line);
      while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
      if (!l.starts_with("#include \"")) continue;
      l.remove_prefix(10);
      std::string_view include = l.substr(0, l.find('"'));
      if (Allowed(*from, include)) continue;
      std::string rule = std::string(from->name) + " may include only";
      for (std::string_view allowed : from->may_include) rule += " " + std::string(allowed);
      out.push_back(file.path + ":" + std::to_string(number) + ": includes \"" +
                    std::string(include) + "\": " + rule);
    }
  }
  return out;
}

std::vector<SourceFile> ReadTree(const std::filesystem::path& root) {
  std::vector<SourceFile> files;
  for (const char* top : {"agent", "checks", "exporters", "tests"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / top)) {
      if (!entry.is_regular_file()) continue;
      std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cc" && ext != ".in") continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      files.push_back({std::filesystem::relative(entry.path(), root).generic_string(), text.str()});
    }
  }
  return files;
}

TEST(LayeringTest, EveryIncludeOfTheTreePointsDown) {
  std::vector<SourceFile> files = ReadTree(GATEWATCH_SOURCE_DIR);
  // The walker found the tree (a test over no files would pass for nothing).
  ASSERT_GT(files.size(), 50u);
  std::vector<std::string> violations = Violations(files);
  std::string all;
  for (const std::string& v : violations) all += v + "\n";
  EXPECT_TRUE(violations.empty()) << all;
}

TEST(LayeringTest, UpwardAndSidewaysIncludesAreNamedWithTheirRule) {
  struct Case {
    std::string path;
    std::string include;
    bool allowed;
  };
  const std::vector<Case> cases = {
      // Down and within a layer.
      {"checks/http_check.cc", "checks/http_transfer.h", true},
      {"checks/http_check.cc", "agent/io/curl_multi.h", true},
      {"checks/http_check.cc", "checks/api/check.h", true},
      {"checks/api/check.h", "agent/base/clock.h", true},
      {"exporters/check_series.h", "checks/api/result.h", true},
      {"agent/scheduler/scheduler.h", "agent/io/timer_queue.h", true},
      {"agent/agent.cc", "exporters/web_server.h", true},
      {"agent/agent.cc", "agent/scheduler/scheduler.h", true},
      {"tests/unit/x_test.cc", "agent/agent.h", true},
      // Up.
      {"agent/base/logging.cc", "agent/io/event_loop.h", false},
      {"agent/io/curl_multi.cc", "checks/api/check.h", false},
      {"checks/api/check.h", "checks/http_check.h", false},
      {"checks/http_check.cc", "agent/agent.h", false},
      {"checks/http_check.cc", "agent/scheduler/scheduler.h", false},
      {"exporters/rules.cc", "agent/config.h", false},
      // Sideways.
      {"checks/http_check.cc", "exporters/prometheus_exporter.h", false},
      {"exporters/check_series.cc", "checks/http_check.h", false},
      {"exporters/web_server.cc", "agent/io/event_loop.h", false},
      {"agent/scheduler/scheduler.cc", "checks/http_check.h", false},
      // Production code never includes tests/.
      {"agent/base/clock.h", "tests/testlib/fake_clock.h", false},
      {"agent/agent.cc", "tests/testlib/fake_clock.h", false},
  };
  for (const Case& c : cases) {
    std::vector<std::string> v = Violations({{c.path, "// x\n#include \"" + c.include + "\"\n"}});
    EXPECT_EQ(v.empty(), c.allowed) << c.path << " -> " << c.include;
    if (!c.allowed && !v.empty()) {
      // The message names the file, the line, the include and the rule.
      EXPECT_EQ(v[0].rfind(c.path + ":2: includes \"" + c.include + "\": ", 0), 0u) << v[0];
      EXPECT_NE(v[0].find("may include only"), std::string::npos) << v[0];
    }
  }
}

}  // namespace
