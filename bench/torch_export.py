"""Writes PyTorch's own ONNX export of a Models/ network (bench/torch_models.py, eval mode, batch axis dynamic), so
ONNX Runtime can also be timed on a graph dsl did not write.
usage: torch_export.py MODEL OUT.onnx"""
import sys

import torch

from torch_models import MODELS

name, out = sys.argv[1], sys.argv[2]
make, shape, classes = MODELS[name]
torch.manual_seed(1)
net = make(classes).eval()
x = torch.randn(1, *shape)
torch.onnx.export(net, x, out, input_names=["images"], output_names=["logits"], opset_version=13,
                  dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
print(f"{name}: PyTorch {torch.__version__} export, opset 13 -> {out}")
