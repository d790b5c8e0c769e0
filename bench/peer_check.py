"""Checks that the PyTorch peer runs at its best before bench/cpu.sh quotes a ratio against it, and prints what it
found: the BLAS library PyTorch loaded (OpenBLAS, not Debian's reference libblas3) and its kernel set, a 2048x2048
float32 matmul's GFLOP/s, whether oneDNN (mkldnn) is on, and the thread count.
usage: peer_check.py --threads N      exit 0 when every check passes, 1 with one line per failed check otherwise."""
import argparse
import ctypes
import os
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, required=True)
a = p.parse_args()
torch.set_num_threads(a.threads)

n = 2048
x, y = torch.randn(n, n), torch.randn(n, n)
torch.matmul(x, y)  # loads the BLAS and warms its threads
best = float("inf")
for _ in range(5):
    t = time.perf_counter()
    torch.matmul(x, y)
    best = min(best, time.perf_counter() - t)
gflops = 2 * n**3 / best / 1e9

onednn = torch.backends.mkldnn.is_available() and torch._C._get_mkldnn_enabled()
with open("/proc/self/maps") as maps:
    blas = sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1].lower()})
core = ""
for b in blas:
    if "libopenblas" in b:  # the kernel set OpenBLAS chose for this processor (OPENBLAS_CORETYPE overrides it)
        get = ctypes.CDLL(b).openblas_get_corename
        get.restype = ctypes.c_char_p
        core = f" ({get().decode()} kernels)"
leftovers = sorted(k for k in os.environ if k.startswith("OPENBLAS_"))

print(f"PyTorch {torch.__version__}: BLAS {', '.join(blas) or 'none loaded'}{core}; "
      f"2048x2048 matmul {gflops:.1f} GFLOP/s; oneDNN {'on' if onednn else 'off'}; "
      f"{torch.get_num_threads()} threads (of {os.cpu_count()} cores); "
      f"OPENBLAS_* in its environment: {', '.join(leftovers) or 'none'}")

failed = []
if not any("openblas" in b.lower() for b in blas):
    failed.append("PyTorch's BLAS is not OpenBLAS (Debian's reference BLAS is about 5x slower on dense layers): "
                  "sudo apt-get install libopenblas0-pthread")
if not onednn:
    failed.append("oneDNN (mkldnn) is off in this PyTorch build: its convolutions would not run at their best")
if torch.get_num_threads() != a.threads:
    failed.append(f"PyTorch runs {torch.get_num_threads()} threads, not the {a.threads} asked for")
if leftovers:
    failed.append(f"{', '.join(leftovers)} set for the peer: bench/cpu.sh unsets them for the peer's process")
for f in failed:
    print(f"refused: {f}")
raise SystemExit(1 if failed else 0)
