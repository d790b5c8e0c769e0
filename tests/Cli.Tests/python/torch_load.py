"""Loads a weights file written by `dsl run` the way the safetensors format says (an 8-byte length, a JSON header,
raw little-endian data; read with json and NumPy, not with dsl), into the same network written in PyTorch with
load_state_dict(strict=True), and prints its accuracy on an IDX test set.

  torch_load.py WEIGHTS IDX_DIR      prints "accuracy 0.8123 on 1000 images"
"""
import gzip
import json
import struct
import sys

import numpy as np
import torch
from torch import nn


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n :]
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", name
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype="<f4").reshape(t["shape"])
    return tensors, meta


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data[4 + 4 * dims :], dtype=np.uint8).reshape(shape)


# The model file of the test (ReliabilityTests.fs), layer for layer; names as dsl gives them.
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, padding=2)
        self.batchnorm1 = nn.BatchNorm2d(8, eps=1e-5)
        self.dense1 = nn.Linear(8 * 14 * 14, 32)
        self.dense2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.batchnorm1(torch.relu(self.conv1(x)))
        x = torch.max_pool2d(x, 2).flatten(1)
        return self.dense2(torch.relu(self.dense1(x)))


def main(weights, idx_dir):
    tensors, meta = read_safetensors(weights)
    renames = {"gamma": "weight", "beta": "bias"}
    state = {}
    for name, value in tensors.items():
        layer, role = name.rsplit(".", 1)
        state[f"{layer}.{renames.get(role, role) if layer.startswith('batchnorm') else role}"] = torch.from_numpy(value.copy())
    state["batchnorm1.num_batches_tracked"] = torch.tensor(0)
    net = Small().eval()
    net.load_state_dict(state, strict=True)

    mean = np.array([float(v) for v in meta["mean"].split(",")], dtype=np.float32)
    std = np.array([float(v) for v in meta["std"].split(",")], dtype=np.float32)
    images = read_idx(f"{idx_dir}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    labels = read_idx(f"{idx_dir}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    x = torch.from_numpy(((images - mean[0]) / std[0])[:, None, :, :])
    with torch.no_grad():
        predicted = net(x).argmax(1).numpy()
    print(f"accuracy {(predicted == labels).mean():.4f} on {len(labels)} images")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
