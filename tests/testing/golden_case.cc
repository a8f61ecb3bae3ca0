#include "testing/golden_case.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "sampling/sampler.h"
#include "sampling/schedule.h"

namespace sdr::testing {

std::string GoldenCaseDir(const std::string& name) { return std::string(SDR_SHARED_DIR) + "/golden/sd15-rand/" + name; }

GenerateParams GoldenCaseParams(const std::string& name) {
  std::ifstream in(GoldenCaseDir(name) + "/case.json");
  const auto c = nlohmann::json::parse(in);
  GenerateParams p;
  p.prompt = c["prompt"];
  p.negative_prompt = c["negative_prompt"];
  p.width = c["width"];
  p.height = c["height"];
  p.steps = c["steps"];
  p.seed = c["seed"];
  p.cfg_scale = c["cfg_scale"];
  const auto sampler = ParseSamplerKind(c["sampler"].get<std::string>());
  const auto scheduler = ParseScheduler(c["scheduler"].get<std::string>());
  EXPECT_TRUE(sampler && scheduler) << "case " << name << ": unknown sampler or scheduler";
  if (sampler) p.sampler = *sampler;
  if (scheduler) p.scheduler = *scheduler;
  return p;
}

}  // namespace sdr::testing
