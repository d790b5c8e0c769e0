# The Winograd matrices of F(2, 5) and F(4, 5) by Toom-Cook (points as in Dsl.Runtime/Cpu/Kernels/WinogradTransforms.cs),
# B^T solved exactly so that A^T [(G g) . (B^T d)] is the correlation, and the float32 error of each on lenet's conv2
# (32 channels in, 5x5, 14x14 outputs) against a float64 direct convolution, transforms and products rounded to float32.
#   /usr/bin/python3 docs/experiments/winograd-f45.py        (sympy and numpy: Debian python3-sympy, python3-numpy)
import numpy as np
import sympy as sp


def matrices(m, r, points):
    a = m + r - 1
    p = [sp.Rational(x) for x in points]
    at, g = sp.zeros(m, a), sp.zeros(a, r)
    for j, x in enumerate(p):
        f = sp.prod([x - y for y in p if y != x])
        for i in range(m):
            at[i, j] = x**i
        for k in range(r):
            g[j, k] = x**k / f
    at[m - 1, a - 1], g[a - 1, r - 1] = 1, 1
    bt = sp.Matrix(a, a, sp.symbols(f"b0:{a * a}"))
    equations = [sum(at[i, j] * g[j, k] * bt[j, l] for j in range(a)) - (1 if l == i + k else 0)
                 for i in range(m) for k in range(r) for l in range(a)]
    bt = bt.subs(sp.solve(equations, list(bt)))
    return at, g, bt


rng = np.random.default_rng(1)
C, K, H = 32, 16, 14
x = np.maximum(rng.standard_normal((C, H + 4, H + 4)), 0).astype(np.float32)
x[:, :2, :], x[:, -2:, :], x[:, :, :2], x[:, :, -2:] = 0, 0, 0, 0  # padding 2
w = (rng.standard_normal((K, C, 5, 5)) / np.sqrt(C * 25)).astype(np.float32)
x64, w64 = x.astype(np.float64), w.astype(np.float64)
ref = sum(np.einsum("kc,chw->khw", w64[:, :, r, s], x64[:, r:r + H, s:s + H]) for r in range(5) for s in range(5))
for m, points in [(2, ["0", "1", "-1", "1/2", "-1/2"]), (4, ["0", "1", "-1", "2", "-2", "1/2", "-1/2"])]:
    at, g, bt = matrices(m, 5, points)
    print(f"F({m}, 5)\n  A^T {at.tolist()}\n  G {g.tolist()}\n  B^T {bt.tolist()}")
    at, g, bt = (np.array(M.tolist(), float) for M in (at, g, bt))
    a = m + 4
    u = np.einsum("ar,kcrs,bs->kcab", g, w64, g).astype(np.float32)
    t = (H + m - 1) // m
    xp = np.zeros((C, t * m + 4, t * m + 4), np.float32)
    xp[:, :H + 4, :H + 4] = x
    y = np.zeros((K, t * m, t * m), np.float32)
    bt32, at32 = bt.astype(np.float32), at.astype(np.float32)
    for i in range(t):
        for j in range(t):
            v = np.einsum("ap,cpq,bq->cab", bt32, xp[:, i * m:i * m + a, j * m:j * m + a], bt32).astype(np.float32)
            y[:, i * m:i * m + m, j * m:j * m + m] = np.einsum("ia,kab,jb->kij", at32, np.einsum("kcab,cab->kab", u, v).astype(np.float32), at32)
    e = np.abs(y[:, :H, :H] - ref)
    print(f"  float32 error: worst {e.max():.2e} ({e.max() / np.abs(ref).max():.2e} of the largest output), rms {np.sqrt((e ** 2).mean()):.2e}")
