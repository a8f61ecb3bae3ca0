// A model whose declared sizes pass every check against the file (the bytes are there: a sparse
// file) but whose weights cannot be allocated once widened to f32 by a backend that widens them
// (cpu-blas; the cpu backend borrows f16 weights from the mapping and allocates nothing):
// SdModel::Load and `sdr` report OutOfMemory, never std::bad_alloc or a crash. The allocation is made to fail deterministically,
// whatever the machine's RAM and overcommit policy, with a data-size limit (RLIMIT_DATA counts
// anonymous memory, not the read-only file mapping); sanitizer builds, whose shadow memory that
// limit would also cap, skip it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "formats/ldm_names.h"
#include "models/random_weights.h"
#include "runtime/errors.h"
#include "runtime/sd_model.h"
#include "testing/model_cache.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

// The tiny model with `huge` declared as an f16 tensor of `shape`, stored last in a sparse
// region of the file (no bytes written for it).
void WriteWithHugeTensor(const std::string& path, const std::string& huge, const Shape& shape) {
  auto weights = MakeRandomSd1Weights({});
  ASSERT_TRUE(weights.ok());
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  uint64_t offset = 0;
  std::string data;
  for (const NamedTensor& t : *weights) {
    if (t.name == huge) continue;
    ASSERT_EQ(t.tensor.dtype(), DType::kF32);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.tensor.shape()}, {"data_offsets", {offset, offset + t.tensor.nbytes()}}};
    data.append(static_cast<const char*>(t.tensor.raw()), t.tensor.nbytes());
    offset += t.tensor.nbytes();
  }
  uint64_t elems = 1;
  for (int64_t d : shape) elems *= static_cast<uint64_t>(d);
  header[huge] = {{"dtype", "F16"}, {"shape", shape}, {"data_offsets", {offset, offset + 2 * elems}}};
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(h.size()) >> (8 * i));
  ASSERT_EQ(std::fwrite(len, 1, 8, f), 8u);
  ASSERT_EQ(std::fwrite(h.data(), 1, h.size(), f), h.size());
  ASSERT_EQ(std::fwrite(data.data(), 1, data.size(), f), data.size());
  ASSERT_EQ(::ftruncate(::fileno(f), static_cast<off_t>(8 + h.size() + offset + 2 * elems)), 0);
  ASSERT_EQ(std::fclose(f), 0);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

constexpr rlim_t kDataLimit = rlim_t{8} << 30;  // bytes of anonymous memory allowed

// Runs `fn` with RLIMIT_DATA lowered to kDataLimit.
template <typename F>
void WithDataLimit(F&& fn) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_DATA, &old), 0);
  rlimit low = old;
  low.rlim_cur = std::min<rlim_t>(old.rlim_cur, kDataLimit);
  ASSERT_EQ(::setrlimit(RLIMIT_DATA, &low), 0);
  fn();
  ASSERT_EQ(::setrlimit(RLIMIT_DATA, &old), 0);
}

TEST(LoadOutOfMemoryTest, HugeDeclaredWeightsGiveOutOfMemoryFromLoadAndTheCli) {
  if (kSanitized) GTEST_SKIP() << "RLIMIT_DATA would also cap the sanitizer's shadow memory";
  testing::TempDir dir;
  const std::string path = dir.File("huge.safetensors");
  const std::string name = std::string(kLdmClipTextPrefix) + "embeddings.token_embedding.weight";
  WriteWithHugeTensor(path, name, {49408, 64});  // the right size first: the file is well formed
  ASSERT_TRUE(SdModel::Load({path, "", ""}).ok());
  // A (49408 * 4096) x 64 f16 token embedding: 26 GB declared (a hole in the file), 52 GB as f32.
  WriteWithHugeTensor(path, name, {int64_t{49408} << 12, 64});
  Result<std::unique_ptr<SdModel>> m = InternalError("not run");
  WithDataLimit([&] { m = SdModel::Load({path, "", "", "cpu"}); });
  EXPECT_TRUE(m.ok()) << "the cpu backend borrows f16 weights: " << m.status().ToString();
  m = InternalError("not run");
  WithDataLimit([&] { m = SdModel::Load({path, "", "", "cpu-blas"}); });
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kOutOfMemory) << m.status().ToString();
  EXPECT_EQ(ClassifyError(m.status(), Operation::kLoadModel), ErrorCode::kOutOfMemory);
  EXPECT_NE(m.status().message().find(name), std::string::npos) << m.status().ToString();

  std::string out;
  EXPECT_EQ(testing::RunCommand("ulimit -d " + std::to_string(kDataLimit >> 10) + " && " + std::string(SDR_BIN_DIR) +
                                    "/sdr generate --device cpu-blas -m " + path + " -p cat -W 64 -H 64",
                                &out, /*merge_stderr=*/true),
            CliExitCode(ErrorCode::kOutOfMemory))
      << out;
  EXPECT_NE(out.find("out_of_memory"), std::string::npos) << out;
}

}  // namespace
}  // namespace sdr
