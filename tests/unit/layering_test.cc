// The folder arrows, enforced: every #include of a project header in src/ and apps/ must point to
// the folder itself or to one allowed below it. CMake's PRIVATE links keep link-time reach as
// narrow; this keeps source-level reach so (every folder shares the src/ include root).
//
//   core <- backends <- formats, tokenizer <- models <- sampling <- runtime <- imagegen <- capi, apps
//   (apps reach the compute backends only through the runtime)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace sdr {
namespace {

namespace fs = std::filesystem;

// Folder (first path component under src/, or "apps") -> the folders its files may include.
const std::map<std::string, std::set<std::string>>& Allowed() {
  static const std::map<std::string, std::set<std::string>> allowed = [] {
    std::map<std::string, std::set<std::string>> a;
    a["core"] = {"core"};
    a["backends"] = {"core", "backends"};
    a["formats"] = {"core", "formats"};
    a["tokenizer"] = {"core", "tokenizer"};
    a["models"] = {"core", "backends", "formats", "tokenizer", "models"};
    a["sampling"] = {"core", "sampling"};
    a["runtime"] = {"core", "backends", "formats", "tokenizer", "models", "sampling", "runtime"};
    a["imagegen"] = {"core", "formats", "tokenizer", "models", "sampling", "runtime", "imagegen"};
    a["server"] = {"core", "formats", "tokenizer", "models", "sampling", "runtime", "imagegen", "server"};
    a["capi"] = {"core", "sampling", "runtime", "imagegen", "capi", "sdr"};
    a["apps"] = {"core", "formats", "tokenizer", "models", "sampling", "runtime", "imagegen", "server", "apps", "sdr"};
    return a;
  }();
  return allowed;
}

TEST(LayeringTest, IncludesPointOnlyDownTheFolderArrows) {
  const fs::path root(SDR_SOURCE_DIR);
  const std::regex include(R"(^\s*#\s*include\s+"([a-z_]+)/)");
  int files = 0, includes = 0;
  for (const char* top : {"src", "apps"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h" && ext != ".cu")) continue;
      const fs::path rel = fs::relative(entry.path(), root);
      const std::string folder = rel.begin()->string() == "apps" ? "apps" : std::next(rel.begin())->string();
      const auto allowed = Allowed().find(folder);
      ASSERT_NE(allowed, Allowed().end()) << "no layering rule for folder '" << folder << "' (" << rel << ")";
      std::ifstream in(entry.path());
      std::string line;
      ++files;
      while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, include)) continue;
        ++includes;
        EXPECT_TRUE(allowed->second.count(m[1].str()) > 0)
            << rel.string() << " (" << folder << ") includes \"" << m[1].str() << "/...\": not allowed by the folder arrows";
      }
    }
  }
  EXPECT_GT(files, 100);
  EXPECT_GT(includes, 200);
}

}  // namespace
}  // namespace sdr
