"""Counts the units of Models/lenet.model (with or without its dropout: the same weights) that never fire: a weights
file written by `dsl run` is loaded into the same network written in PyTorch (safetensors read with json and NumPy,
not with dsl), and a unit is silent when its ReLU output is zero on every image of the IDX test set (the first 1,000).

  dead_units.py WEIGHTS IDX_DIR      prints "conv1 0.0% conv2 0.0% dense1 0.4% silent on 1000 images"
"""
import sys

import numpy as np
import torch
from torch import nn

from torch_load import read_idx, read_safetensors


class Lenet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.dense1 = nn.Linear(64 * 7 * 7, 512)
        self.dense2 = nn.Linear(512, 10)

    def activations(self, x):
        a1 = torch.relu(self.conv1(x))
        a2 = torch.relu(self.conv2(torch.max_pool2d(a1, 2)))
        a3 = torch.relu(self.dense1(torch.max_pool2d(a2, 2).flatten(1)))
        return {"conv1": a1, "conv2": a2, "dense1": a3}


def main(weights, idx_dir):
    tensors, meta = read_safetensors(weights)
    net = Lenet().eval()
    net.load_state_dict({name: torch.from_numpy(value.copy()) for name, value in tensors.items()}, strict=True)
    mean, std = float(meta["mean"].split(",")[0]), float(meta["std"].split(",")[0])
    images = read_idx(f"{idx_dir}/t10k-images-idx3-ubyte.gz")[:1000].astype(np.float32) / 255.0
    x = torch.from_numpy(((images - mean) / std)[:, None, :, :])
    with torch.no_grad():
        acts = net.activations(x)
    parts = []
    for layer, a in acts.items():
        # A channel (or unit) fires if any position of any image is above zero.
        fired = (a > 0).flatten(2).any(2).any(0) if a.dim() == 4 else (a > 0).any(0)
        parts.append(f"{layer} {100 * (1 - fired.float().mean().item()):.1f}%")
    print(" ".join(parts) + f" silent on {len(images)} images")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
