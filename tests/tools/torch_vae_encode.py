#!/usr/bin/env python3
"""Independent PyTorch reference of the SD VAE encoder (LDM AutoencoderKL.encode), written from the
original LDM code, reusing ../shared/tools/torch_ref.py's loader and blocks (vae_res, vae_attn).

usage: torch_vae_encode.py SHARED_TOOLS_DIR MODEL.safetensors IMAGE.npy MOMENTS_OUT.npy
IMAGE.npy: [1, 3, H, W] float32 in [0, 1]. Writes the moments [1, 8, H/8, W/8] (after quant_conv).
The downsample is LDM's: F.pad(x, (0, 1, 0, 1)) then a 3x3 stride-2 convolution without padding.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, sys.argv[1])
import torch_ref as R  # noqa: E402


def encode(x):
    p = "first_stage_model."; e = p + "encoder."
    h = R.conv(2 * x - 1, e + "conv_in")
    levels = 1 + max(int(k.split(".")[3]) for k in R.W if k.startswith(e + "down."))
    for i in range(levels):
        j = 0
        while f"{e}down.{i}.block.{j}.conv1.weight" in R.W:
            h = R.vae_res(h, f"{e}down.{i}.block.{j}"); j += 1
        if f"{e}down.{i}.downsample.conv.weight" in R.W:
            h = R.conv(F.pad(h, (0, 1, 0, 1)), f"{e}down.{i}.downsample.conv", stride=2, pad=0)
    h = R.vae_res(h, e + "mid.block_1"); h = R.vae_attn(h, e + "mid.attn_1"); h = R.vae_res(h, e + "mid.block_2")
    h = R.conv(F.silu(R.gn(h, e + "norm_out", 1e-6)), e + "conv_out")
    return R.conv(h, p + "quant_conv")


def main():
    R.W.update(R.load(sys.argv[2]))
    x = torch.from_numpy(np.load(sys.argv[3]).astype(np.float32))
    np.save(sys.argv[4], encode(x).numpy().astype(np.float32))


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
