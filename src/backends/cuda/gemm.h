// GEMMs of the cuda backend through cuBLASLt: y[M, N] = x[M, K] . w[N, K]^T + bias[N] + c[M, N],
// row-major (PyTorch's Linear), operands f16/bf16 (f32 accumulation on tensor cores) or f32
// (CUBLAS_COMPUTE_32F: no TF32). The bias rides in the BIAS epilogue and c in beta = 1, so a
// Linear with a bias and a residual is one call. Each shape's algorithm is asked of cuBLASLt's
// heuristic once and cached; shapes it refuses run on GemmFallback (kernels.h).
//
// Row-major y = x w^T is, column-major, y^T [N, M] = (w^T)^T . x^T: A = w stored K x N (ld ldw)
// with op T, B = x stored K x M (ld ldx) with op N, C = D = y^T stored N x M (ld N).
//
// Thread-safety: one per stream; one thread at a time.
#pragma once

#include <cublasLt.h>

#include <map>
#include <memory>
#include <tuple>

#include "backends/cuda/kernels.h"
#include "core/result.h"

namespace sdr::cuda {

class LtGemm {
 public:
  // `workspace` (device, `workspace_bytes`) is cuBLASLt's scratch for every call on this stream.
  static Result<std::unique_ptr<LtGemm>> Create(Dt dt, void* workspace, size_t workspace_bytes);
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // x: [m, k] (row stride ldx), w: [n, k] (row stride ldw), bias: [n] or null, c: [m, n] or null
  // -> y: [m, n] (row stride n).
  Status Run(const void* x, int64_t ldx, const void* w, int64_t ldw, const void* bias, const void* c, void* y,
             int64_t m, int64_t n, int64_t k, cudaStream_t stream);

  // The cuBLASLt version, e.g. 130002.
  static size_t Version() { return cublasLtGetVersion(); }

 private:
  LtGemm(Dt dt, cublasLtHandle_t handle, void* workspace, size_t workspace_bytes)
      : dt_(dt), handle_(handle), workspace_(workspace), workspace_bytes_(workspace_bytes) {}

  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool has_algo = false;
  };
  // m, n, k, ldx, ldw, bias?, alignment of x, w, y/c (bytes, up to 256)
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool, int, int, int>;
  Result<Plan*> GetPlan(const Key& key);
  static void Destroy(Plan& p);

  Dt dt_;
  cublasLtHandle_t handle_;
  void* workspace_;
  size_t workspace_bytes_;
  std::map<Key, Plan> plans_;
};

}  // namespace sdr::cuda
