#!/usr/bin/env python3
"""AlexNet as Models/alexnet.model defines it (the paper's two groups on conv2, conv4 and conv5; LRN with the paper's
constants, which PyTorch writes LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2) because it divides alpha by the size),
trained in PyTorch eager with SGD (momentum 0.9, weight decay 5e-4) and cross-entropy on one synthetic batch: the peer
of `dsl bench Models/alexnet.model`. Prints its lines in dsl bench's words, so bench/gpu.sh reads both the same way.

On CUDA, cuDNN runs at its defaults (benchmark mode off, TF32 convolutions on: torch.backends.cudnn.allow_tf32 is
True by default) and TF32 matmuls are switched on here (torch.backends.cuda.matmul.allow_tf32, off by default since
PyTorch 1.12), so the dense layers may use tensor cores as the convolutions do. Peak memory is
torch.cuda.max_memory_allocated over the training steps: tensors PyTorch's caching allocator handed out, not the
context or the cache's slack.

usage: bench/torch_alexnet.py [--device cuda|cpu] [--batch 128] [--steps 20] [--warmup 5] [--classes 1000]"""
import argparse
import time

import torch
import torch.nn as nn

from torch_models import alexnet

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
p.add_argument("--batch", type=int, default=128)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--classes", type=int, default=1000)
p.add_argument("--threads", type=int, default=0, help="CPU threads (default: PyTorch's choice)")
a = p.parse_args()
if a.threads:
    torch.set_num_threads(a.threads)
dev = torch.device(a.device)
cuda = dev.type == "cuda"
if cuda:
    torch.backends.cudnn.enabled = True        # the defaults, stated: cuDNN on, benchmark off, TF32 convolutions on
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True  # not a default: TF32 for the dense layers too

torch.manual_seed(1)
net = alexnet(a.classes).to(dev).train()
x = torch.rand(a.batch, 3, 227, 227, device=dev) * 2 - 1
y = torch.randint(0, a.classes, (a.batch,), device=dev)
opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
loss_fn = nn.CrossEntropyLoss()


def sync():
    if cuda:
        torch.cuda.synchronize()


def train_step():
    opt.zero_grad(set_to_none=True)
    loss_fn(net(x), y).backward()
    opt.step()


def timed(step, warmup, steps):
    for _ in range(warmup):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - t) / steps


if cuda:
    torch.cuda.reset_peak_memory_stats()
train = timed(train_step, a.warmup, a.steps)
peak = torch.cuda.max_memory_allocated() if cuda else None
net.eval()
with torch.no_grad():
    infer = timed(lambda: net(x), a.warmup, a.steps)

where = torch.cuda.get_device_name(dev) if cuda else f"CPU ({torch.get_num_threads()} threads)"
print(f"alexnet in PyTorch {torch.__version__} eager on {where}, batch {a.batch}, {a.steps} timed steps after {a.warmup} warm-up")
if cuda:
    print(f"cuDNN {torch.backends.cudnn.version()}: TF32 convolutions {torch.backends.cudnn.allow_tf32}, "
          f"TF32 matmuls {torch.backends.cuda.matmul.allow_tf32}, benchmark {torch.backends.cudnn.benchmark}")
print(f"training:  {a.batch / train:8.1f} images/s  ({1000 * train:.1f} ms per step)")
print(f"inference: {a.batch / infer:8.1f} images/s  ({1000 * infer:.1f} ms per batch)")
if cuda:
    print(f"peak device memory: {peak / 2**20:.1f} MiB  (training, torch.cuda.max_memory_allocated)")
else:
    print("peak device memory: n/a on the CPU (PyTorch measures it on CUDA only)")
