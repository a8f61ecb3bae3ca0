// Block quantization: every format is decoded from blocks whose bytes are written out by hand
// here, against values worked out from the ggml layout definition (some as literal numbers,
// the rest by restating the layout element by element); then quantize -> dequantize round
// trips on gaussian data with error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "core/quant.h"

namespace sdr {
namespace {

// f16 bit patterns used below.
constexpr uint16_t kHalf1 = 0x3C00;       // 1.0
constexpr uint16_t kHalfMinus1 = 0xBC00;  // -1.0
constexpr uint16_t kHalf0_5 = 0x3800;     // 0.5
constexpr uint16_t kHalf0_25 = 0x3400;    // 0.25
constexpr uint16_t kHalf0_125 = 0x3000;   // 0.125

void PutF16(std::vector<uint8_t>* b, uint16_t h) {
  b->push_back(static_cast<uint8_t>(h & 0xFF));
  b->push_back(static_cast<uint8_t>(h >> 8));
}

std::vector<float> Decode(DType dtype, const std::vector<uint8_t>& bytes, int64_t n) {
  EXPECT_EQ(bytes.size(), *DTypeBytes(dtype, static_cast<uint64_t>(n)));
  std::vector<float> out(static_cast<size_t>(n), -12345.0f);
  Status s = Dequantize(dtype, bytes.data(), n, out.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(QuantTest, Q4_0HandBuiltBlock) {
  std::vector<uint8_t> b;
  PutF16(&b, kHalf0_5);                                                     // d = 0.5
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
  const auto y = Decode(DType::kQ4_0, b, 32);
  EXPECT_EQ(y[0], -4.0f);   // low nibble 0: (0 - 8) * 0.5
  EXPECT_EQ(y[15], 3.5f);   // low nibble 15
  EXPECT_EQ(y[16], 3.5f);   // high nibble of qs[0] = 15
  EXPECT_EQ(y[31], -4.0f);  // high nibble of qs[15] = 0
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(y[16 + j], (7 - j) * 0.5f) << j;
  }
}

TEST(QuantTest, Q4_1HandBuiltBlock) {
  std::vector<uint8_t> b;
  PutF16(&b, kHalf0_25);    // d
  PutF16(&b, kHalfMinus1);  // m
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
  const auto y = Decode(DType::kQ4_1, b, 32);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[15], 2.75f);  // 15 * 0.25 - 1
  EXPECT_EQ(y[16], 2.75f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j * 0.25f - 1.0f) << j;
    EXPECT_EQ(y[16 + j], (15 - j) * 0.25f - 1.0f) << j;
  }
}

TEST(QuantTest, Q5_0HandBuiltBlock) {
  std::vector<uint8_t> b;
  PutF16(&b, kHalf0_5);
  // qh = 0x80000001 little-endian: fifth bit set for element 0 and element 31.
  for (uint8_t v : {0x01, 0x00, 0x00, 0x80}) b.push_back(v);
  std::vector<uint8_t> qs(16, 0x00);
  qs[0] = 0x53;   // element 0: 3 (+16 from qh), element 16: 5
  qs[15] = 0xF2;  // element 15: 2, element 31: 15 (+16 from qh)
  b.insert(b.end(), qs.begin(), qs.end());
  const auto y = Decode(DType::kQ5_0, b, 32);
  EXPECT_EQ(y[0], 1.5f);    // (19 - 16) * 0.5
  EXPECT_EQ(y[16], -5.5f);  // (5 - 16) * 0.5
  EXPECT_EQ(y[15], -7.0f);  // (2 - 16) * 0.5
  EXPECT_EQ(y[31], 7.5f);   // (31 - 16) * 0.5
  for (int j : {1, 2, 7, 14, 17, 20, 30}) EXPECT_EQ(y[j], -8.0f) << j;  // q = 0
}

TEST(QuantTest, Q5_1HandBuiltBlock) {
  std::vector<uint8_t> b;
  PutF16(&b, kHalf0_5);  // d
  PutF16(&b, kHalf1);    // m
  // qh = 0x00100020: fifth bit for element 5 and element 20.
  for (uint8_t v : {0x20, 0x00, 0x10, 0x00}) b.push_back(v);
  std::vector<uint8_t> qs(16, 0x00);
  qs[4] = 0xA1;  // element 4: 1, element 20: 10 (+16)
  qs[5] = 0xA7;  // element 5: 7 (+16), element 21: 10
  b.insert(b.end(), qs.begin(), qs.end());
  const auto y = Decode(DType::kQ5_1, b, 32);
  EXPECT_EQ(y[4], 1.5f);    // 1 * 0.5 + 1
  EXPECT_EQ(y[20], 14.0f);  // 26 * 0.5 + 1
  EXPECT_EQ(y[5], 12.5f);   // 23 * 0.5 + 1
  EXPECT_EQ(y[21], 6.0f);   // 10 * 0.5 + 1
  for (int j : {0, 3, 6, 15, 16, 19, 22, 31}) EXPECT_EQ(y[j], 1.0f) << j;
}

TEST(QuantTest, Q8_0HandBuiltBlock) {
  std::vector<uint8_t> b;
  PutF16(&b, kHalf0_125);
  for (int j = 0; j < 32; ++j) b.push_back(static_cast<uint8_t>(static_cast<int8_t>(j - 16)));
  b[2] = 0x80;   // element 0: -128
  b[33] = 0x7F;  // element 31: 127
  const auto y = Decode(DType::kQ8_0, b, 32);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[31], 15.875f);
  for (int j = 1; j < 31; ++j) EXPECT_EQ(y[j], (j - 16) * 0.125f) << j;
}

// Sub-block scales and mins shared by the Q4_K and Q5_K blocks, and their 12 packed bytes
// (worked out by hand from the packing rule in quant_k.cc's header comment).
constexpr int kKScale[8] = {1, 2, 3, 4, 17, 33, 50, 63};
constexpr int kKMin[8] = {0, 1, 2, 3, 20, 40, 45, 63};
constexpr uint8_t kKPacked[12] = {0x41, 0x82, 0xC3, 0xC4,   // scale | (scale[s+4] >> 4) << 6
                                  0x40, 0x81, 0x82, 0xC3,   // min | (min[s+4] >> 4) << 6
                                  0x41, 0x81, 0xD2, 0xFF};  // scale[s+4] & 15 | min[s+4] << 4

uint8_t KQs(int i) { return static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4)); }
uint8_t K5Qh(int l) { return static_cast<uint8_t>((l * 37) & 0xFF); }

TEST(QuantTest, Q4_KHandBuiltBlock) {
  std::vector<uint8_t> b;
  PutF16(&b, kHalf1);    // d
  PutF16(&b, kHalf0_5);  // dmin
  b.insert(b.end(), kKPacked, kKPacked + 12);
  for (int i = 0; i < 128; ++i) b.push_back(KQs(i));
  const auto y = Decode(DType::kQ4_K, b, 256);
  EXPECT_EQ(y[0], 0.0f);      // sub-block 0, q 0: 1*0 - 0.5*0
  EXPECT_EQ(y[40], 13.5f);    // sub-block 1, high nibble of qs[8] = 7: 2*7 - 0.5*1
  EXPECT_EQ(y[200], 377.5f);  // sub-block 6, low nibble of qs[104] = 8: 50*8 - 0.5*45
  EXPECT_EQ(y[255], -31.5f);  // sub-block 7, high nibble of qs[127] = 0: 0 - 0.5*63
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64, l = e % 32, s = e / 32;
    const uint8_t byte = KQs(32 * chunk + l);
    const int q = (e % 64) < 32 ? (byte & 0xF) : (byte >> 4);
    EXPECT_EQ(y[e], 1.0f * kKScale[s] * q - 0.5f * kKMin[s]) << e;
  }
}

TEST(QuantTest, Q5_KHandBuiltBlock) {
  std::vector<uint8_t> b;
  PutF16(&b, kHalf1);
  PutF16(&b, kHalf0_5);
  b.insert(b.end(), kKPacked, kKPacked + 12);
  for (int l = 0; l < 32; ++l) b.push_back(K5Qh(l));
  for (int i = 0; i < 128; ++i) b.push_back(KQs(i));
  const auto y = Decode(DType::kQ5_K, b, 256);
  EXPECT_EQ(y[3], 19.0f);     // low nibble 3, qh[3] = 111 bit 0 set: 1*19 - 0
  EXPECT_EQ(y[40], 13.5f);    // qh[8] = 40, bit 1 clear: as Q4_K
  EXPECT_EQ(y[98], 114.5f);   // high nibble of qs[34] = 13, qh[2] = 74 bit 3 set: 4*29 - 1.5
  EXPECT_EQ(y[200], 377.5f);  // qh[8] bit 6 clear
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64, l = e % 32, s = e / 32;
    const bool high_half = (e % 64) >= 32;
    const uint8_t byte = KQs(32 * chunk + l);
    const int bit = (K5Qh(l) >> (2 * chunk + (high_half ? 1 : 0))) & 1;
    const int q = (high_half ? (byte >> 4) : (byte & 0xF)) + 16 * bit;
    EXPECT_EQ(y[e], 1.0f * kKScale[s] * q - 0.5f * kKMin[s]) << e;
  }
}

int8_t Q6Scale(int i) { return i == 15 ? int8_t{-128} : static_cast<int8_t>(i % 2 ? -(i + 1) : i + 1); }

TEST(QuantTest, Q6_KHandBuiltBlock) {
  std::vector<uint8_t> b;
  for (int i = 0; i < 128; ++i) b.push_back(static_cast<uint8_t>((i * 7) & 0xFF));   // ql
  for (int i = 0; i < 64; ++i) b.push_back(static_cast<uint8_t>((i * 13) & 0xFF));   // qh
  for (int i = 0; i < 16; ++i) b.push_back(static_cast<uint8_t>(Q6Scale(i)));       // scales
  PutF16(&b, kHalf0_25);                                                             // d
  const auto y = Decode(DType::kQ6_K, b, 256);
  EXPECT_EQ(y[0], -8.0f);     // ql[0] = 0, qh[0] = 0: q = 0 -> 0.25 * 1 * -32
  EXPECT_EQ(y[16], 16.0f);    // scale[1] = -2, q = 0: 0.25 * -2 * -32
  EXPECT_EQ(y[33], 17.25f);   // ql[33] low 7, qh[1] bits 2-3 = 3: q 55 -> 0.25 * 3 * 23
  EXPECT_EQ(y[100], -29.75f); // ql[36] high 15, qh[4] bits 6-7 = 0: 0.25 * 7 * -17
  EXPECT_EQ(y[200], -55.25f); // ql[72] high 15, qh[40] bits 4-5 = 0: 0.25 * 13 * -17
  EXPECT_EQ(y[255], 800.0f);  // ql[127] high 7, qh[63] bits 6-7 = 0: 0.25 * -128 * -25
  for (int e = 0; e < 256; ++e) {
    const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
    const uint8_t lbyte = static_cast<uint8_t>(((64 * half + l + 32 * (quarter % 2)) * 7) & 0xFF);
    const int low = quarter < 2 ? (lbyte & 0xF) : (lbyte >> 4);
    const uint8_t hbyte = static_cast<uint8_t>(((32 * half + l) * 13) & 0xFF);
    const int q = low | (((hbyte >> (2 * quarter)) & 3) << 4);
    EXPECT_EQ(y[e], 0.25f * Q6Scale(e / 16) * (q - 32)) << e;
  }
}

TEST(QuantTest, RejectsPlainDTypesAndPartialBlocks) {
  std::vector<float> x(64, 1.0f), y(64);
  std::vector<uint8_t> q(1024);
  Status s = Dequantize(DType::kF16, q.data(), 32, y.data());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("not a block-quantized"), std::string::npos) << s.message();
  s = Quantize(DType::kQ8_0, x.data(), 33, q.data());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("whole number"), std::string::npos) << s.message();
  s = Dequantize(DType::kQ4_K, q.data(), 32, y.data());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = Dequantize(DType::kQ4_0, q.data(), -32, y.data());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Quantize(DType::kQ4_0, x.data(), 0, q.data()).ok());
}

constexpr DType kAllQuant[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                               DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

std::vector<float> RoundTrip(DType dtype, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(*DTypeBytes(dtype, x.size()));
  Status s = Quantize(dtype, x.data(), n, q.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<float> y(x.size());
  s = Dequantize(dtype, q.data(), n, y.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return y;
}

std::vector<float> Gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

double RelRms(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

TEST(QuantTest, RoundTripRelativeRmsErrorOnGaussianData) {
  struct Bound { DType dtype; double max_rel_rms; };
  // Round-to-nearest on N(0, sigma^2) gives about step/sqrt(12), step ~ range/levels (measured:
  // q4_0 .088, q4_1 .079, q5_0 .043, q5_1 .038, q8_0 .0055, q4_k .079, q5_k .042, q6_k .019).
  const Bound bounds[] = {
      {DType::kQ4_0, 0.10}, {DType::kQ4_1, 0.09}, {DType::kQ5_0, 0.05}, {DType::kQ5_1, 0.045},
      {DType::kQ8_0, 0.007}, {DType::kQ4_K, 0.09}, {DType::kQ5_K, 0.045}, {DType::kQ6_K, 0.023},
  };
  for (uint32_t seed : {1u, 2u}) {
    for (float sigma : {1.0f, 1e-3f, 300.0f}) {
      const auto x = Gaussian(4096, seed, sigma);
      for (const Bound& b : bounds) {
        const double e = RelRms(x, RoundTrip(b.dtype, x));
        EXPECT_LT(e, b.max_rel_rms) << DTypeName(b.dtype) << " sigma " << sigma;
        EXPECT_GT(e, 0.0) << DTypeName(b.dtype);  // it really quantized
      }
    }
  }
}

TEST(QuantTest, Q8_0ErrorWithinHalfAStepPerBlock) {
  const auto x = Gaussian(32 * 64, 7);
  std::vector<uint8_t> q(*DTypeBytes(DType::kQ8_0, x.size()));
  ASSERT_TRUE(Quantize(DType::kQ8_0, x.data(), static_cast<int64_t>(x.size()), q.data()).ok());
  std::vector<float> y(x.size());
  ASSERT_TRUE(Dequantize(DType::kQ8_0, q.data(), static_cast<int64_t>(x.size()), y.data()).ok());
  for (size_t b = 0; b < x.size() / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[32 * b + j]));
    uint16_t h;
    std::memcpy(&h, &q[34 * b], 2);
    const float d16 = F16ToF32(h);
    // Half a step, plus the f16 rounding of d carried by |q| <= 127.
    const float bound = 0.5f * d16 + 127.0f * std::fabs(d16 - amax / 127.0f) + 1e-7f;
    for (int j = 0; j < 32; ++j) {
      EXPECT_LE(std::fabs(x[32 * b + j] - y[32 * b + j]), bound) << "block " << b << " elem " << j;
    }
  }
}

TEST(QuantTest, ExactlyRepresentableValuesSurviveQ8_0AndQ4_0) {
  // d = 1 and integer values: round to nearest is exact.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>((j % 16) - 8);  // amax 8 at x = -8
  EXPECT_EQ(RoundTrip(DType::kQ4_0, x), x);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j * 4 - 127);  // amax 127 at j = 0
  EXPECT_EQ(RoundTrip(DType::kQ8_0, x), x);
}

TEST(QuantTest, ConstantAndZeroBlocksDecodeWithoutNaN) {
  for (DType dtype : kAllQuant) {
    const std::vector<float> zeros(512, 0.0f);
    EXPECT_EQ(RoundTrip(dtype, zeros), zeros) << DTypeName(dtype);
    const std::vector<float> twos(512, 2.0f);
    const auto y = RoundTrip(dtype, twos);
    for (float v : y) {
      ASSERT_TRUE(std::isfinite(v)) << DTypeName(dtype);
      EXPECT_NEAR(v, 2.0f, 0.02f) << DTypeName(dtype);
    }
    // Non-finite input must not crash (values are unspecified).
    std::vector<float> bad = Gaussian(512, 3);
    bad[5] = NAN;
    bad[300] = INFINITY;
    RoundTrip(dtype, bad);
  }
}

TEST(QuantTest, KQuantsUseSubBlockScales) {
  // One sub-block 10x larger than the rest (6-bit sub-block scales span ratios up to ~63):
  // the small values keep a precision close to that of their own range.
  auto x = Gaussian(256, 11, 0.01f);
  for (int j = 0; j < 32; ++j) x[j] *= 10.0f;
  struct Bound { DType dtype; double max_rel_rms; };
  for (const Bound& b : {Bound{DType::kQ4_K, 0.1}, Bound{DType::kQ5_K, 0.05},
                         Bound{DType::kQ6_K, 0.025}}) {
    const auto y = RoundTrip(b.dtype, x);
    const std::vector<float> small_x(x.begin() + 32, x.end()), small_y(y.begin() + 32, y.end());
    EXPECT_LT(RelRms(small_x, small_y), b.max_rel_rms) << DTypeName(b.dtype);
  }
}

}  // namespace
}  // namespace sdr
