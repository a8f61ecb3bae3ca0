#!/usr/bin/env python3
"""Independent PyTorch reference of the TAESD decoder, transcribed from madebyollin/taesd's taesd.py
(Decoder: Clamp, conv, ReLU, Blocks, Upsample, ...), loading its state dict by the Sequential's indices.

usage: torch_taesd.py TAESD.safetensors LATENT.npy IMAGE_OUT.npy   (latent [1, 4, h, w] as the UNet gives it)
Writes the decoded image [1, 3, 8h, 8w] clamped to [0, 1].
"""
import json, struct, sys

import numpy as np
import torch
import torch.nn as nn


def conv(n_in, n_out, **kwargs):
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.conv = nn.Sequential(conv(n_in, n_out), nn.ReLU(), conv(n_out, n_out), nn.ReLU(), conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x):
        return self.fuse(self.conv(x) + self.skip(x))


def Decoder(c=64, latent_channels=4):
    return nn.Sequential(
        Clamp(), conv(latent_channels, c), nn.ReLU(),
        Block(c, c), Block(c, c), Block(c, c), nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        Block(c, c), Block(c, c), Block(c, c), nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        Block(c, c), Block(c, c), Block(c, c), nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        Block(c, c), conv(c, 3),
    )


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n)); base = 8 + n; sd = {}
        for k, v in hdr.items():
            if k == "__metadata__":
                continue
            a, b = v["data_offsets"]; f.seek(base + a)
            sd[k] = torch.from_numpy(np.frombuffer(f.read(b - a), dtype=np.float32).reshape(v["shape"]).copy())
    return sd


def main():
    sd = load(sys.argv[1])
    d = Decoder(c=sd["1.weight"].shape[0])
    d.load_state_dict(sd)
    z = torch.from_numpy(np.load(sys.argv[2]).astype(np.float32))
    with torch.no_grad():
        np.save(sys.argv[3], d(z).clamp(0, 1).numpy().astype(np.float32))


if __name__ == "__main__":
    main()
