// sdr_fuzz_seeds OUT_DIR: writes OUT_DIR/<target>/<seed> for every fuzz target and
// OUT_DIR/<target>.dict where the target has a dictionary (see fuzz_seeds.h). Used by
// scripts/fuzz.sh; exit status 0 on success, 1 with a message on failure.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz/fuzz_seeds.h"
#include "fuzz/fuzz_targets.h"

namespace {

bool WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 1;
  }
  namespace fs = std::filesystem;
  const fs::path out = argv[1];
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) {
    std::fprintf(stderr, "cannot create %s: %s\n", out.c_str(), ec.message().c_str());
    return 1;
  }
  for (const sdr::fuzz::FuzzTarget& t : sdr::fuzz::FuzzTargets()) {
    const std::string name(t.name);
    auto seeds = sdr::fuzz::MakeFuzzSeeds(name, out.string());
    if (!seeds.ok()) {
      std::fprintf(stderr, "seeds for %s: %s\n", name.c_str(), seeds.status().ToString().c_str());
      return 1;
    }
    fs::create_directories(out / name, ec);
    for (const sdr::fuzz::FuzzSeed& s : *seeds) {
      if (!WriteFile(out / name / s.name, s.bytes)) {
        std::fprintf(stderr, "cannot write %s\n", (out / name / s.name).c_str());
        return 1;
      }
    }
    const std::string dict = sdr::fuzz::FuzzDictionary(name);
    if (!dict.empty() && !WriteFile(out / (name + ".dict"), dict)) {
      std::fprintf(stderr, "cannot write %s.dict\n", name.c_str());
      return 1;
    }
    std::printf("%-12s %zu seeds%s\n", name.c_str(), seeds->size(), dict.empty() ? "" : " + dictionary");
  }
  return 0;
}
