// The cuda backend's speed and memory on SD 1.x at 512x512, in one run (scripts/gpu_check.sh):
//   UNet eval ms      one batch-2 evaluation (the CFG pair), median of N after warm-up, replayed
//                     from its CUDA graph; also batch 1 and with graphs off (SDR_CUDA_GRAPHS=0)
//   CFG step ms, it/s the median gap between sampler steps of a 20-step generation (UNet eval +
//                     upload/download + the host sampler)
//   VAE decode ms     one 64x64-latent decode
//   end to end s      a whole 20-step 512x512 generation (text, sampling, decode), warm
//   peak VRAM         what sdruntime holds with 1 and 2 contexts (weights counted once) and the
//                     device's own used memory (CUDA context and libraries included)
//   OutOfVRAM         a context with a small VRAM budget fails with out_of_vram, then the same
//                     context makes the image (compared with the first one)
// Prints a table; --json FILE writes every number; --png DIR writes the images.
//
// Usage: sdr_bench_gpu MODEL [--device cuda:0] [--precision f16] [--evals 30] [--json FILE] [--png DIR]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/executor.h"
#include "runtime/context.h"
#include "runtime/device_scratch.h"
#include "runtime/errors.h"
#include "runtime/png_writer.h"

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double Mb(uint64_t b) { return static_cast<double>(b) / (1 << 20); }

int Fail(const std::string& what, const sdr::Status& s) {
  std::fprintf(stderr, "error: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

sdr::Tensor Filled(const sdr::Shape& shape, float scale, uint32_t seed) {
  auto t = sdr::Tensor::Allocate(sdr::DType::kF32, shape);
  if (!t.ok()) std::abort();
  uint32_t s = seed;
  for (int64_t i = 0; i < t->numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    t->mutable_data<float>()[i] = scale * (static_cast<float>(s >> 8) / 8388608.0f - 1.0f);
  }
  return *t;
}

double Psnr(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) se += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return se == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / (se / a.size()));
}

// Median wall time of `evals` UNet evaluations of batch `b` on a fresh context stream (graphs
// replayed unless SDR_CUDA_GRAPHS=0 was set when it was made), each ending with the download of
// eps (so the time includes the device work).
sdr::Result<double> TimeUnet(const sdr::SdModel& model, int64_t b, int evals) {
  const sdr::UnetModel& unet = model.unet();
  SDR_ASSIGN_OR_RETURN(auto scratch, sdr::DeviceScratch::Create(model.backend_ptr()));
  const sdr::Tensor x = Filled({b, unet.in_channels(), 64, 64}, 1.0f, 1);
  const sdr::Tensor ctx = Filled({b, 77, unet.context_dim()}, 1.0f, 2);
  auto body = [&](sdr::Executor& ex, const sdr::Act& ca, float t) -> sdr::Result<sdr::Tensor> {
    SDR_ASSIGN_OR_RETURN(sdr::Act xa, ex.Upload(x));
    SDR_ASSIGN_OR_RETURN(sdr::Tensor tv, sdr::Tensor::Allocate(sdr::DType::kF32, {b}));
    for (int64_t i = 0; i < b; ++i) tv.mutable_data<float>()[i] = t;
    SDR_ASSIGN_OR_RETURN(sdr::Act ta, ex.Upload(tv, sdr::DType::kF32));
    SDR_ASSIGN_OR_RETURN(sdr::Act eps, ex.Captured("unet", [&] { return unet.Forward(ex, xa, ta, ca); }));
    return ex.Download(eps);
  };
  sdr::Arena plan;
  {
    sdr::Executor dry(model.backend(), nullptr, &plan);
    SDR_ASSIGN_OR_RETURN(sdr::Act ca, dry.Upload(ctx));
    SDR_RETURN_IF_ERROR(body(dry, ca, 500.0f).status());
  }
  SDR_RETURN_IF_ERROR(scratch->Reserve(plan.high_water()));
  sdr::Executor ex(scratch->backend(), scratch->stream(), scratch->arena());
  ex.EnableCapture(scratch->captures());
  SDR_ASSIGN_OR_RETURN(sdr::Act ca, ex.Upload(ctx));
  std::vector<double> times;
  for (int i = 0; i < evals + 3; ++i) {
    const auto t0 = Clock::now();
    SDR_RETURN_IF_ERROR(body(ex, ca, 999.0f - 30.0f * static_cast<float>(i)).status());
    if (i >= 3) times.push_back(Since(t0));
  }
  return Median(times);
}

sdr::Result<double> TimeDecode(const sdr::SdModel& model, int runs) {
  SDR_ASSIGN_OR_RETURN(auto scratch, sdr::DeviceScratch::Create(model.backend_ptr()));
  const sdr::Tensor z = Filled({1, model.vae().latent_channels(), 64, 64}, 5.0f, 3);
  auto body = [&](sdr::Executor& ex) -> sdr::Result<sdr::Tensor> {
    SDR_ASSIGN_OR_RETURN(sdr::Act za, ex.Upload(z));
    SDR_ASSIGN_OR_RETURN(sdr::Act img, model.vae().Decode(ex, za));
    return ex.Download(img);
  };
  sdr::Arena plan;
  {
    sdr::Executor dry(model.backend(), nullptr, &plan);
    SDR_RETURN_IF_ERROR(body(dry).status());
  }
  SDR_RETURN_IF_ERROR(scratch->Reserve(plan.high_water()));
  sdr::Executor ex(scratch->backend(), scratch->stream(), scratch->arena());
  std::vector<double> times;
  for (int i = 0; i < runs + 1; ++i) {
    const auto t0 = Clock::now();
    SDR_RETURN_IF_ERROR(body(ex).status());
    if (i >= 1) times.push_back(Since(t0));
  }
  return Median(times);
}

sdr::GenerateParams Params512(int steps) {
  sdr::GenerateParams p;
  p.prompt = "a photograph of an astronaut riding a horse";
  p.width = p.height = 512;
  p.steps = steps;
  p.seed = 42;
  return p;  // dpm++2m, discrete, CFG 7.5: the defaults
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [--device cuda:0] [--precision f16] [--evals 30] [--json FILE] [--png DIR]\n",
                 argv[0]);
    return 2;
  }
  std::string device = "cuda:0", precision = "f16", json_path, png_dir;
  int evals = 30;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--device") device = v;
    else if (k == "--precision") precision = v;
    else if (k == "--evals") evals = std::max(1, std::atoi(v.c_str()));
    else if (k == "--json") json_path = v;
    else if (k == "--png") png_dir = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  auto t0 = Clock::now();
  sdr::SdModelOptions mo;
  mo.model_path = argv[1];
  mo.device = device;
  mo.cuda_precision = precision;
  auto loaded = sdr::SdModel::Load(mo);
  if (!loaded.ok()) return Fail("loading", loaded.status());
  std::shared_ptr<const sdr::SdModel> model = std::move(loaded).value();
  const double load_s = Since(t0);
  const sdr::Backend& backend = model->backend();
  const uint64_t weights = backend.bytes_in_use();
  std::printf("device: %s (%s)\nmodel: %s, load %.2f s, weights on the device %.0f MB\n", backend.info().name.c_str(),
              backend.info().description.c_str(), argv[1], load_s, Mb(weights));

  auto unet2 = TimeUnet(*model, 2, evals);
  if (!unet2.ok()) return Fail("UNet batch 2", unet2.status());
  auto unet1 = TimeUnet(*model, 1, evals);
  if (!unet1.ok()) return Fail("UNet batch 1", unet1.status());
  ::setenv("SDR_CUDA_GRAPHS", "0", 1);
  auto unet2_live = TimeUnet(*model, 2, std::max(5, evals / 3));
  ::unsetenv("SDR_CUDA_GRAPHS");
  if (!unet2_live.ok()) return Fail("UNet batch 2 without graphs", unet2_live.status());
  const double flops2 = 2 * model->unet().EvalFlops(64, 64, 77);
  auto decode = TimeDecode(*model, 5);
  if (!decode.ok()) return Fail("VAE decode", decode.status());

  // A whole generation, warm (the first one records the graphs and picks the GEMM algorithms).
  sdr::Context ctx1(model, {.memory_budget_bytes = 0, .timeout_s = 0});
  const sdr::GenerateParams p = Params512(20);
  auto warm = ctx1.Generate(p);
  if (!warm.ok()) return Fail("warm-up generation", warm.status());
  std::vector<double> at;
  t0 = Clock::now();
  auto r1 = ctx1.Generate(p, [&](const sdr::StepProgress&) {
    at.push_back(Since(t0));
    return true;
  });
  const double e2e_s = Since(t0);
  if (!r1.ok()) return Fail("generation", r1.status());
  std::vector<double> gaps;
  for (size_t i = 1; i < at.size(); ++i) gaps.push_back(at[i] - at[i - 1]);
  const double step_s = Median(gaps);
  const uint64_t one_ctx = backend.bytes_in_use();

  sdr::Context ctx2(model, {.memory_budget_bytes = 0, .timeout_s = 0});
  auto r2 = ctx2.Generate(p);
  if (!r2.ok()) return Fail("second context", r2.status());
  const uint64_t two_ctx = backend.bytes_in_use();
  const uint64_t free_now = backend.bytes_available();
  // Both contexts at once.
  sdr::Result<sdr::GenerateResult> ca = sdr::InvalidArgument("not run"), cb = sdr::InvalidArgument("not run");
  t0 = Clock::now();
  std::thread ta([&] { ca = ctx1.Generate(p); });
  std::thread tb([&] { cb = ctx2.Generate(p); });
  ta.join();
  tb.join();
  const double pair_s = Since(t0);
  if (!ca.ok() || !cb.ok()) return Fail("two contexts at once", ca.ok() ? cb.status() : ca.status());
  const double same_psnr = Psnr(ca->images[0].rgb, cb->images[0].rgb);

  // OutOfVRAM with a small budget, then the right image on the same context.
  sdr::Context small(model, {.memory_budget_bytes = 64ull << 20, .timeout_s = 0});
  auto refused = small.Generate(p);
  const bool oom_ok = !refused.ok() && sdr::ClassifyError(refused.status()) == sdr::ErrorCode::kOutOfVram;
  small.options().memory_budget_bytes = 0;
  auto after = small.Generate(p);
  if (!after.ok()) return Fail("generation after out_of_vram", after.status());
  const double after_psnr = Psnr(r1->images[0].rgb, after->images[0].rgb);

  if (!png_dir.empty()) {
    const auto& img = r1->images[0];
    sdr::WritePng(png_dir + "/e2e_512.png", img.rgb.data(), 512, 512).IgnoreError();
    sdr::WritePng(png_dir + "/after_oom_512.png", after->images[0].rgb.data(), 512, 512).IgnoreError();
  }

  const double unet_ms = *unet2 * 1e3, step_ms = step_s * 1e3;
  std::printf("\n%-44s %10s\n", "measure", "value");
  std::printf("%-44s %10.2f\n", "UNet eval, batch 2 (CFG pair), ms", unet_ms);
  std::printf("%-44s %10.2f\n", "UNet eval, batch 1, ms", *unet1 * 1e3);
  std::printf("%-44s %10.2f\n", "UNet eval, batch 2, graphs off, ms", *unet2_live * 1e3);
  std::printf("%-44s %10.1f\n", "UNet batch 2 TFLOP/s (counted GEMM/conv/attn)", flops2 / *unet2 * 1e-12);
  std::printf("%-44s %10.2f\n", "CFG step, ms (median, 20-step run)", step_ms);
  std::printf("%-44s %10.1f\n", "it/s (CFG, 512x512)", 1.0 / step_s);
  std::printf("%-44s %10.2f\n", "VAE decode 512x512, ms", *decode * 1e3);
  std::printf("%-44s %10.3f\n", "end to end 20 steps 512x512, s", e2e_s);
  std::printf("%-44s %10.0f\n", "weights on the device, MB", Mb(weights));
  std::printf("%-44s %10.0f\n", "peak VRAM held, 1 context, MB", Mb(one_ctx));
  std::printf("%-44s %10.0f\n", "peak VRAM held, 2 contexts, MB", Mb(two_ctx));
  std::printf("%-44s %10.0f\n", "device free VRAM with 2 contexts, MB", Mb(free_now));
  std::printf("%-44s %10.3f\n", "2 contexts at once, s for 2 images", pair_s);
  std::printf("%-44s %10.1f\n", "2 contexts: PSNR between their images, dB", same_psnr);
  std::printf("%-44s %10s\n", "OutOfVRAM with a 64 MB budget", oom_ok ? "yes" : "NO");
  std::printf("%-44s %10.1f\n", "image after OutOfVRAM vs first, PSNR dB", after_psnr);
  if (!refused.ok()) std::printf("out_of_vram message: %s\n", refused.status().message().c_str());

  if (!json_path.empty()) {
    std::ofstream j(json_path);
    j << "{\n"
      << "  \"device\": \"" << backend.info().description << "\",\n"
      << "  \"precision\": \"" << precision << "\",\n"
      << "  \"load_s\": " << load_s << ",\n"
      << "  \"unet_eval_b2_ms\": " << unet_ms << ",\n"
      << "  \"unet_eval_b1_ms\": " << *unet1 * 1e3 << ",\n"
      << "  \"unet_eval_b2_graphs_off_ms\": " << *unet2_live * 1e3 << ",\n"
      << "  \"unet_b2_tflops\": " << flops2 / *unet2 * 1e-12 << ",\n"
      << "  \"cfg_step_ms\": " << step_ms << ",\n"
      << "  \"it_per_s\": " << 1.0 / step_s << ",\n"
      << "  \"vae_decode_ms\": " << *decode * 1e3 << ",\n"
      << "  \"e2e_20_steps_512_s\": " << e2e_s << ",\n"
      << "  \"weights_mb\": " << Mb(weights) << ",\n"
      << "  \"vram_1_context_mb\": " << Mb(one_ctx) << ",\n"
      << "  \"vram_2_contexts_mb\": " << Mb(two_ctx) << ",\n"
      << "  \"two_contexts_at_once_s\": " << pair_s << ",\n"
      << "  \"out_of_vram_provoked\": " << (oom_ok ? "true" : "false") << ",\n"
      << "  \"image_after_oom_psnr_db\": " << after_psnr << "\n"
      << "}\n";
  }
  const bool ok = oom_ok && after_psnr >= 40.0 && same_psnr >= 40.0;
  if (!ok) std::printf("CHECK FAILED: out_of_vram %s, image after it %.1f dB, two contexts %.1f dB\n",
                       oom_ok ? "ok" : "not provoked", after_psnr, same_psnr);
  return ok ? 0 : 1;
}
