#!/usr/bin/env python3
"""Independent PyTorch img2img (euler, CFG) on ../shared/tools/torch_ref.py's CLIP, UNet and VAE decoder plus
torch_vae_encode.py's encoder, following stable-diffusion.cpp: init latent = 0.18215 * (mean + std * n), the start
x = init + n * sigmas[0] over the partial schedule, where n is the generation's first draw at the seed (the same
draw as the initial noise; our engine dumps it as noise.npy, the Philox itself is tested separately).

usage: torch_img2img.py SHARED_TOOLS_DIR MODEL DUMP_DIR PROMPT NEGATIVE CFG OUT_DIR
DUMP_DIR: our --dump-dir of the same generation (init_image.npy, noise.npy, sigmas.npy are read from it).
Writes init_moments.npy, init_latent.npy, x0.npy and decoded.npy into OUT_DIR.
"""
import math, os, sys

import numpy as np
import torch

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402
from torch_vae_encode import encode  # noqa: E402
from clip_tokenize import Tokenizer  # noqa: E402


def main():
    tools, model, dump, prompt, negative, cfg, out = sys.argv[1:8]
    cfg = float(cfg)
    os.makedirs(out, exist_ok=True)
    R.W.update(R.load(model))
    save = lambda k, v: np.save(os.path.join(out, k + ".npy"), v.numpy().astype(np.float32))
    tok = Tokenizer(os.path.join(tools, "..", "data", "clip-vit-l-14-merges.txt"))
    def enc(text):
        ids = tok.encode(text)[:77]; ids += [49407] * (77 - len(ids)); return R.clip(torch.tensor(ids))
    cond, uncond = enc(prompt), enc(negative)
    image = torch.from_numpy(np.load(os.path.join(dump, "init_image.npy")))
    noise = torch.from_numpy(np.load(os.path.join(dump, "noise.npy")))
    sig = torch.from_numpy(np.load(os.path.join(dump, "sigmas.npy"))).double()
    moments = encode(image); save("init_moments", moments)
    mean, logvar = moments[:, :4], moments[:, 4:]
    init = 0.18215 * (mean + torch.exp(0.5 * logvar.clamp(-30, 20)) * noise); save("init_latent", init)
    betas = (torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2)
    ac = torch.cumprod(1 - betas, 0); log_s = (((1 - ac) / ac) ** 0.5).log()
    def sigma_to_t(s):
        ls = math.log(s); dists = ls - log_s
        lo = int((dists >= 0).sum().item() - 1); lo = max(0, min(lo, 998)); hi = lo + 1
        wgt = (log_s[lo] - ls) / (log_s[lo] - log_s[hi]); wgt = float(wgt.clamp(0, 1))
        return (1 - wgt) * lo + wgt * hi
    x = init + noise * float(sig[0])
    for i in range(len(sig) - 1):
        s = float(sig[i]); cin = 1 / math.sqrt(s * s + 1); t = sigma_to_t(s)
        ec = R.unet(x * cin, t, cond); eu = R.unet(x * cin, t, uncond)
        den = x - s * (eu + cfg * (ec - eu))
        x = x + (x - den) / s * (float(sig[i + 1]) - s)
    save("x0", x); save("decoded", R.vae_decode(x))
    print("done", out)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
