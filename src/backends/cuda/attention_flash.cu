// Fused flash attention on tensor cores (nvcuda::wmma, f16/bf16 operands, f32 accumulation).
//
// A block of kWarps warps takes Br = 16 * kWarps query rows of one (sample, head); warp w owns
// rows [16 w, 16 w + 16). The head dimension is padded with zeros to Dp (a multiple of 16). For
// each tile of kBc keys:
//   S = Q K^T            (wmma, Br x kBc, f32, to shared memory)
//   online softmax       (per row, base 2: m, l, alpha = 2^(m_old - m_new), P = 2^(S - m_new))
//   O = alpha O + P V    (O, Br x Dp f32, lives in shared memory; rescaled, then wmma-accumulated)
// and finally y = O / l. With Lk <= 80 (SD's 77-token cross-attention) one tile of 80 keys holds
// every key: no rescaling pass. Causal attention stops at the tile holding the block's last row.
//
// Shared memory per block (bytes): Q, K, V tiles (T), S (f32), P (T), O (f32), m, l, alpha (f32):
// FlashSmemBytes below; variants with fewer warps serve GPUs with less shared memory.
#include <mma.h>

#include <cmath>

#include "backends/cuda/device_common.cuh"

namespace sdr::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr float kLog2e = 1.4426950408889634f;
constexpr int64_t kMaxFlashDp = 256;

__host__ __device__ inline size_t A128(size_t n) { return (n + 127) / 128 * 128; }

struct FlashLayout {
  int dp, br, bc, ldq, lds, ldp, ldo;
  size_t q, k, v, s, p, o, m, l, a, total;  // byte offsets of each array; total bytes
};

__host__ __device__ inline FlashLayout MakeLayout(int dp, int warps, int bc) {
  FlashLayout f{};
  f.dp = dp;
  f.br = 16 * warps;
  f.bc = bc;
  f.ldq = dp + 8;  // T elements: 16-byte multiple, fragments stay 32-byte aligned
  f.lds = bc + 4;  // f32
  f.ldp = bc + 8;  // T
  f.ldo = dp + 4;  // f32
  size_t at = 0;
  f.q = at;
  at += A128(size_t(f.br) * f.ldq * 2);
  f.k = at;
  at += A128(size_t(bc) * f.ldq * 2);
  f.v = at;
  at += A128(size_t(bc) * f.ldq * 2);
  f.s = at;
  at += A128(size_t(f.br) * f.lds * 4);
  f.p = at;
  at += A128(size_t(f.br) * f.ldp * 2);
  f.o = at;
  at += A128(size_t(f.br) * f.ldo * 4);
  f.m = at;
  at += A128(size_t(f.br) * 4);
  f.l = at;
  at += A128(size_t(f.br) * 4);
  f.a = at;
  at += A128(size_t(f.br) * 4);
  f.total = at;
  return f;
}

// rows x dp tile of `src` (row stride `stride` elements, `valid_rows` rows and `d` columns real,
// the rest zero) -> dst (row stride ld), by all threads of the block.
template <typename T>
__device__ void LoadTile(T* dst, int ld, const T* src, int64_t stride, int rows, int64_t valid_rows, int dp,
                         int64_t d) {
  const int total = rows * dp;
  for (int i = threadIdx.x; i < total; i += blockDim.x) {
    const int r = i / dp, c = i - r * dp;
    dst[r * ld + c] = (r < valid_rows && c < d) ? src[r * stride + c] : FromF<T>(0.0f);
  }
}

// q, y: [b, lq, heads * d]; k, v: [b, lk, heads * d]; grid (ceil(lq / Br), heads, b)
template <typename T, int kWarps, int kBc>
__global__ void __launch_bounds__(32 * kWarps) FlashKernel(const T* q, const T* k, const T* v, T* y, int64_t lq,
                                                           int64_t lk, int64_t heads, int64_t d, int dp,
                                                           float scale_log2, bool causal) {
  extern __shared__ __align__(128) unsigned char smem[];
  const FlashLayout f = MakeLayout(dp, kWarps, kBc);
  T* sq = reinterpret_cast<T*>(smem + f.q);
  T* sk = reinterpret_cast<T*>(smem + f.k);
  T* sv = reinterpret_cast<T*>(smem + f.v);
  float* ss = reinterpret_cast<float*>(smem + f.s);
  T* sp = reinterpret_cast<T*>(smem + f.p);
  float* so = reinterpret_cast<float*>(smem + f.o);
  float* sm = reinterpret_cast<float*>(smem + f.m);
  float* sl = reinterpret_cast<float*>(smem + f.l);
  float* sa = reinterpret_cast<float*>(smem + f.a);

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t n = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * int64_t(f.br);
  const int64_t stride = heads * d;
  const T* kb = k + n * lk * stride + h * d;
  const T* vb = v + n * lk * stride + h * d;

  LoadTile(sq, f.ldq, q + (n * lq + q0) * stride + h * d, stride, f.br, lq - q0, dp, d);
  for (int i = threadIdx.x; i < f.br * f.ldo; i += blockDim.x) so[i] = 0.0f;
  for (int i = threadIdx.x; i < f.br; i += blockDim.x) {
    sm[i] = -INFINITY;
    sl[i] = 0.0f;
  }
  __syncthreads();

  const int r0 = 16 * warp;  // this warp's first row in the tile
  const int64_t kend = causal ? (q0 + f.br < lk ? q0 + f.br : lk) : lk;
  for (int64_t j0 = 0; j0 < kend; j0 += kBc) {
    LoadTile(sk, f.ldq, kb + j0 * stride, stride, kBc, lk - j0, dp, d);
    LoadTile(sv, f.ldq, vb + j0 * stride, stride, kBc, lk - j0, dp, d);
    __syncthreads();

    // S = Q K^T for this warp's 16 rows.
    for (int cb = 0; cb < kBc / 16; ++cb) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
      for (int kk = 0; kk < dp / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
        wmma::load_matrix_sync(fa, sq + r0 * f.ldq + kk * 16, f.ldq);
        wmma::load_matrix_sync(fb, sk + cb * 16 * f.ldq + kk * 16, f.ldq);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(ss + r0 * f.lds + cb * 16, acc, f.lds, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax over the tile, row by row (the warp's lanes cover the tile's columns).
    for (int rr = 0; rr < 16; ++rr) {
      const int row = r0 + rr;
      const int64_t qi = q0 + row;
      float vals[(kBc + 31) / 32];
      float mx = -INFINITY;
#pragma unroll
      for (int t = 0; t < (kBc + 31) / 32; ++t) {
        const int c = lane + 32 * t;
        const int64_t j = j0 + c;
        float s = -INFINITY;
        if (c < kBc && j < lk && !(causal && j > qi)) s = ss[row * f.lds + c] * scale_log2;
        vals[t] = s;
        mx = fmaxf(mx, s);
      }
      mx = WarpMax(mx);
      const float m_old = sm[row];
      const float m_new = fmaxf(m_old, mx);
      const bool empty = m_new == -INFINITY;
      const float alpha = empty ? 1.0f : exp2f(m_old - m_new);
      float sum = 0.0f;
#pragma unroll
      for (int t = 0; t < (kBc + 31) / 32; ++t) {
        const int c = lane + 32 * t;
        if (c < kBc) {
          const float p = (empty || vals[t] == -INFINITY) ? 0.0f : exp2f(vals[t] - m_new);
          sp[row * f.ldp + c] = FromF<T>(p);
          sum += p;
        }
      }
      sum = WarpSum(sum);
      if (lane == 0) {
        sl[row] = sl[row] * alpha + sum;
        sm[row] = m_new;
        sa[row] = alpha;
      }
    }
    __syncwarp();

    // O = alpha O + P V
    for (int i = lane; i < 16 * f.dp; i += 32) {
      const int row = r0 + i / f.dp, c = i % f.dp;
      so[row * f.ldo + c] *= sa[row];
    }
    __syncwarp();
    for (int db = 0; db < dp / 16; ++db) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, so + r0 * f.ldo + db * 16, f.ldo, wmma::mem_row_major);
      for (int kk = 0; kk < kBc / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
        wmma::load_matrix_sync(fa, sp + r0 * f.ldp + kk * 16, f.ldp);
        wmma::load_matrix_sync(fb, sv + kk * 16 * f.ldq + db * 16, f.ldq);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(so + r0 * f.ldo + db * 16, acc, f.ldo, wmma::mem_row_major);
    }
    __syncthreads();  // every warp is done with this K/V tile
  }

  // y = O / l for the warp's real rows.
  for (int i = lane; i < 16 * f.dp; i += 32) {
    const int row = r0 + i / f.dp, c = i % f.dp;
    const int64_t qi = q0 + row;
    if (qi >= lq || c >= d) continue;
    const float l = sl[row];
    y[(n * lq + qi) * stride + h * d + c] = FromF<T>(l > 0.0f ? so[row * f.ldo + c] / l : 0.0f);
  }
}

struct Variant {
  int warps, bc;
};
constexpr Variant kLong[] = {{4, 64}, {2, 64}, {1, 64}};   // tiles of 64 keys
constexpr Variant kShort[] = {{4, 80}, {2, 80}, {1, 80}};  // Lk <= 80: one tile

int Dp(int64_t d) { return static_cast<int>((d + 15) / 16 * 16); }

// The first variant of `list` that fits `smem_optin`, or nullptr.
template <size_t N>
const Variant* Pick(const Variant (&list)[N], int dp, int smem_optin) {
  for (const Variant& v : list) {
    if (MakeLayout(dp, v.warps, v.bc).total <= static_cast<size_t>(smem_optin)) return &v;
  }
  return nullptr;
}

template <typename T, int kWarps, int kBc>
cudaError_t Launch(const void* q, const void* k, const void* v, void* y, const AttentionShape& a, int dp,
                   cudaStream_t s) {
  const size_t smem = MakeLayout(dp, kWarps, kBc).total;
  auto kernel = FlashKernel<T, kWarps, kBc>;  // its shared-memory limit was raised by PrepareFlashAttention
  const dim3 grid(static_cast<unsigned>((a.lq + 16 * kWarps - 1) / (16 * kWarps)), static_cast<unsigned>(a.heads),
                  static_cast<unsigned>(a.b));
  kernel<<<grid, 32 * kWarps, smem, s>>>(static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v),
                                         static_cast<T*>(y), a.lq, a.lk, a.heads, a.d, dp, a.scale * kLog2e,
                                         a.causal);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Dispatch(const void* q, const void* k, const void* v, void* y, const AttentionShape& a, int smem_optin,
                     cudaStream_t s) {
  const int dp = Dp(a.d);
  if (a.lk <= 80) {
    const Variant* p = Pick(kShort, dp, smem_optin);
    if (p != nullptr) {
      if (p->warps == 4) return Launch<T, 4, 80>(q, k, v, y, a, dp, s);
      if (p->warps == 2) return Launch<T, 2, 80>(q, k, v, y, a, dp, s);
      return Launch<T, 1, 80>(q, k, v, y, a, dp, s);
    }
  }
  const Variant* p = Pick(kLong, dp, smem_optin);
  if (p == nullptr) return cudaErrorInvalidValue;
  if (p->warps == 4) return Launch<T, 4, 64>(q, k, v, y, a, dp, s);
  if (p->warps == 2) return Launch<T, 2, 64>(q, k, v, y, a, dp, s);
  return Launch<T, 1, 64>(q, k, v, y, a, dp, s);
}

template <typename T>
cudaError_t Raise(int smem_optin) {
  const void* kernels[] = {
      reinterpret_cast<const void*>(FlashKernel<T, 4, 64>), reinterpret_cast<const void*>(FlashKernel<T, 2, 64>),
      reinterpret_cast<const void*>(FlashKernel<T, 1, 64>), reinterpret_cast<const void*>(FlashKernel<T, 4, 80>),
      reinterpret_cast<const void*>(FlashKernel<T, 2, 80>), reinterpret_cast<const void*>(FlashKernel<T, 1, 80>)};
  for (const void* k : kernels) {
    const cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_optin);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t PrepareFlashAttention(int smem_optin) {
  const cudaError_t e = Raise<__half>(smem_optin);
  return e != cudaSuccess ? e : Raise<__nv_bfloat16>(smem_optin);
}

bool FlashAttentionFits(Dt dt, int64_t d, int smem_optin) {
  if (dt == Dt::kF32 || d < 1 || Dp(d) > kMaxFlashDp) return false;
  return Pick(kLong, Dp(d), smem_optin) != nullptr;
}

cudaError_t FlashAttention(Dt dt, const void* q, const void* k, const void* v, void* y, const AttentionShape& a,
                           int smem_optin, cudaStream_t s) {
  if (a.b * a.lq * a.heads * a.d <= 0) return cudaSuccess;
  if (!FlashAttentionFits(dt, a.d, smem_optin) || a.lk <= 0) return cudaErrorInvalidValue;
  if (dt == Dt::kF16) return Dispatch<__half>(q, k, v, y, a, smem_optin, s);
  return Dispatch<__nv_bfloat16>(q, k, v, y, a, smem_optin, s);
}

}  // namespace sdr::cuda
