#include "backends/cuda/gemm.h"

#include <string>

#include "backends/cuda/cuda_util.h"

namespace sdr::cuda {
namespace {

Status LtError(cublasStatus_t s, const std::string& what) {
  return InternalError("cuBLASLt " + what + ": status " + std::to_string(static_cast<int>(s)));
}

#define SDR_LT_RETURN_IF_ERROR(expr, what)                                  \
  do {                                                                      \
    const cublasStatus_t sdr_lt_ = (expr);                                  \
    if (sdr_lt_ != CUBLAS_STATUS_SUCCESS) return LtError(sdr_lt_, what);    \
  } while (0)

cudaDataType_t DataType(Dt dt) {
  switch (dt) {
    case Dt::kF32: return CUDA_R_32F;
    case Dt::kF16: return CUDA_R_16F;
    case Dt::kBf16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

// Largest power of two (<= 256) dividing the address.
int Alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  int align = 256;
  while (align > 1 && (a % static_cast<uintptr_t>(align)) != 0) align /= 2;
  return align;
}

}  // namespace

Result<std::unique_ptr<LtGemm>> LtGemm::Create(Dt dt, void* workspace, size_t workspace_bytes) {
  cublasLtHandle_t handle = nullptr;
  SDR_LT_RETURN_IF_ERROR(cublasLtCreate(&handle), "create");
  return std::unique_ptr<LtGemm>(new LtGemm(dt, handle, workspace, workspace_bytes));
}

LtGemm::~LtGemm() {
  for (auto& [key, plan] : plans_) Destroy(plan);
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

void LtGemm::Destroy(Plan& p) {
  if (p.a != nullptr) cublasLtMatrixLayoutDestroy(p.a);
  if (p.b != nullptr) cublasLtMatrixLayoutDestroy(p.b);
  if (p.c != nullptr) cublasLtMatrixLayoutDestroy(p.c);
  if (p.desc != nullptr) cublasLtMatmulDescDestroy(p.desc);
  p = Plan{};
}

Result<LtGemm::Plan*> LtGemm::GetPlan(const Key& key) {
  auto it = plans_.find(key);
  if (it != plans_.end()) return &it->second;
  const auto [m, n, k, ldx, ldw, bias, align_x, align_w, align_y] = key;
  Plan p;
  const cudaDataType_t type = DataType(dt_);
  auto fail = [&](cublasStatus_t s, const char* what) {
    Destroy(p);
    return LtError(s, what);
  };
  cublasStatus_t s = cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  if (s != CUBLAS_STATUS_SUCCESS) return fail(s, "matmul descriptor");
  const cublasOperation_t op_t = CUBLAS_OP_T, op_n = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_t, sizeof(op_t));
  cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_n, sizeof(op_n));
  if (bias) {
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi));
  }
  if ((s = cublasLtMatrixLayoutCreate(&p.a, type, static_cast<uint64_t>(k), static_cast<uint64_t>(n), ldw)) !=
      CUBLAS_STATUS_SUCCESS) {
    return fail(s, "layout of w");
  }
  if ((s = cublasLtMatrixLayoutCreate(&p.b, type, static_cast<uint64_t>(k), static_cast<uint64_t>(m), ldx)) !=
      CUBLAS_STATUS_SUCCESS) {
    return fail(s, "layout of x");
  }
  if ((s = cublasLtMatrixLayoutCreate(&p.c, type, static_cast<uint64_t>(n), static_cast<uint64_t>(m), n)) !=
      CUBLAS_STATUS_SUCCESS) {
    return fail(s, "layout of y");
  }
  cublasLtMatmulPreference_t pref = nullptr;
  if ((s = cublasLtMatmulPreferenceCreate(&pref)) != CUBLAS_STATUS_SUCCESS) return fail(s, "preference");
  const uint64_t ws = workspace_bytes_;
  const uint32_t ax = static_cast<uint32_t>(align_x), aw = static_cast<uint32_t>(align_w),
                 ay = static_cast<uint32_t>(align_y);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aw, sizeof(aw));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ax, sizeof(ax));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ay, sizeof(ay));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ay, sizeof(ay));
  cublasLtMatmulHeuristicResult_t result{};
  int count = 0;
  s = cublasLtMatmulAlgoGetHeuristic(handle_, p.desc, p.a, p.b, p.c, p.c, pref, 1, &result, &count);
  cublasLtMatmulPreferenceDestroy(pref);
  if (s == CUBLAS_STATUS_SUCCESS && count > 0 && result.state == CUBLAS_STATUS_SUCCESS) {
    p.algo = result.algo;
    p.has_algo = true;
  }
  return &plans_.emplace(key, p).first->second;
}

Status LtGemm::Run(const void* x, int64_t ldx, const void* w, int64_t ldw, const void* bias, const void* c, void* y,
                   int64_t m, int64_t n, int64_t k, cudaStream_t stream) {
  if (m <= 0 || n <= 0) return Status::Ok();
  if (k <= 0) {
    SDR_CUDA_RETURN_IF_ERROR(GemmFallback(dt_, x, ldx, w, ldw, bias, c, y, m, n, k, stream), "GEMM (k = 0)");
    return Status::Ok();
  }
  const int align_y = c != nullptr ? std::min(Alignment(y), Alignment(c)) : Alignment(y);
  const Key key{m, n, k, ldx, ldw, bias != nullptr, Alignment(x), Alignment(w), align_y};
  SDR_ASSIGN_OR_RETURN(Plan * p, GetPlan(key));
  if (!p->has_algo) {
    SDR_CUDA_RETURN_IF_ERROR(GemmFallback(dt_, x, ldx, w, ldw, bias, c, y, m, n, k, stream), "GEMM (fallback)");
    return Status::Ok();
  }
  if (bias != nullptr) {
    cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
  }
  const float alpha = 1.0f, beta = c != nullptr ? 1.0f : 0.0f;
  SDR_LT_RETURN_IF_ERROR(cublasLtMatmul(handle_, p->desc, &alpha, w, p->a, x, p->b, &beta, c != nullptr ? c : y, p->c,
                                        y, p->c, &p->algo, workspace_, workspace_bytes_, stream),
                         "matmul " + std::to_string(m) + "x" + std::to_string(k) + " . " + std::to_string(n) + "x" +
                             std::to_string(k) + "^T");
  return Status::Ok();
}

}  // namespace sdr::cuda
