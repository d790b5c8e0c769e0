"""Times training steps (SGD with momentum, cross-entropy) and inference of a Models/ network in PyTorch on
synthetic data, printing images/s in the same words as `dsl bench`.
usage: torch_bench.py MODEL --device cpu|cuda --batch N --steps N --warmup N --threads N"""
import argparse
import time

import torch
import torch.nn as nn

from torch_models import MODELS

p = argparse.ArgumentParser()
p.add_argument("model", choices=sorted(MODELS))
p.add_argument("--device", default="cpu")
p.add_argument("--batch", type=int, default=32)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--threads", type=int, default=0)
a = p.parse_args()
if a.threads:
    torch.set_num_threads(a.threads)
make, shape, classes = MODELS[a.model]
torch.manual_seed(1)
dev = torch.device(a.device)
if dev.type == "cuda":
    # Stated, not inherited: TF32 convolutions (cuDNN's default) and TF32 matmuls (off by default since PyTorch 1.12).
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
net = make(classes).to(dev)
x = torch.randn(a.batch, *shape, device=dev)
y = torch.randint(0, classes, (a.batch,), device=dev)
opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
loss_fn = nn.CrossEntropyLoss()


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def train_step():
    opt.zero_grad(set_to_none=True)
    loss_fn(net(x), y).backward()
    opt.step()


def timed(step):
    """Mean seconds per step, and each step's own seconds (for the median and 95th percentile)."""
    for _ in range(a.warmup):
        step()
    sync()
    each = []
    t = time.perf_counter()
    for _ in range(a.steps):
        s = time.perf_counter()
        step()
        sync()
        each.append(time.perf_counter() - s)
    return (time.perf_counter() - t) / a.steps, sorted(each)


def pct(sorted_times, q):
    return sorted_times[min(len(sorted_times) - 1, int(q * len(sorted_times)))]


if dev.type == "cuda":
    torch.cuda.reset_peak_memory_stats()
net.train()
train, _ = timed(train_step)
net.eval()
with torch.no_grad():
    infer, each = timed(lambda: net(x))
print(f"{a.model} in PyTorch {torch.__version__} on {a.device} ({torch.get_num_threads()} threads), batch {a.batch}, "
      f"{a.steps} timed steps after {a.warmup} warm-up")
print(f"training:  {a.batch / train:8.1f} images/s  ({1000 * train:.1f} ms per step)")
print(f"inference: {a.batch / infer:8.1f} images/s  ({1000 * infer:.1f} ms per batch; median {1000 * pct(each, 0.5):.3f} ms, "
      f"p95 {1000 * pct(each, 0.95):.3f} ms)")
if dev.type == "cuda":
    print(f"peak device memory: {torch.cuda.max_memory_allocated() / 2**20:.1f} MiB")
