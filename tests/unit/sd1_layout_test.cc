#include <gtest/gtest.h>

#include <set>
#include <string>

#include "models/sd1_layout.h"

namespace sdr {
namespace {

struct Count {
  int64_t tensors = 0, params = 0;
};

Count CountPrefix(const std::vector<LayoutTensor>& layout, const std::string& prefix) {
  Count c;
  for (const auto& t : layout) {
    if (t.name.rfind(prefix, 0) == 0) {
      ++c.tensors;
      c.params += NumElements(t.shape);
    }
  }
  return c;
}

TEST(Sd1LayoutTest, DefaultMatchesSd15Counts) {
  const auto layout = Sd1Layout();
  EXPECT_EQ(layout.size(), 1130u);
  const Count unet = CountPrefix(layout, "model.diffusion_model.");
  const Count clip = CountPrefix(layout, "cond_stage_model.");
  const Count vae = CountPrefix(layout, "first_stage_model.");
  EXPECT_EQ(unet.tensors, 686);
  EXPECT_EQ(unet.params, 859520964);
  EXPECT_EQ(clip.tensors, 196);
  EXPECT_EQ(clip.params, 123060480);
  EXPECT_EQ(vae.tensors, 248);
  EXPECT_EQ(vae.params, 83653863);
  std::set<std::string> names;
  for (const auto& t : layout) EXPECT_TRUE(names.insert(t.name).second) << t.name;
}

TEST(Sd1LayoutTest, TinyKeepsNamesAndShrinksWidths) {
  const auto full = Sd1Layout();
  const auto tiny = Sd1Layout(TinySd1LayoutOptions());
  // Same UNet and VAE names and ranks; CLIP keeps its structure with 2 of 12 layers.
  std::vector<LayoutTensor> full_kept;
  for (const auto& t : full) {
    const bool deep_clip_layer = t.name.find("encoder.layers.") != std::string::npos &&
                                 t.name.find("encoder.layers.0.") == std::string::npos &&
                                 t.name.find("encoder.layers.1.") == std::string::npos;
    if (!deep_clip_layer) full_kept.push_back(t);
  }
  ASSERT_EQ(full_kept.size(), tiny.size());
  for (size_t i = 0; i < tiny.size(); ++i) {
    EXPECT_EQ(full_kept[i].name, tiny[i].name);
    EXPECT_EQ(full_kept[i].shape.size(), tiny[i].shape.size()) << tiny[i].name;
  }
  Count all = CountPrefix(tiny, "");
  EXPECT_LT(all.params, 20'000'000);  // ~17M: 68 MB as f32
}

}  // namespace
}  // namespace sdr
