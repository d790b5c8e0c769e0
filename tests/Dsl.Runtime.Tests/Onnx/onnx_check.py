"""Checks an exported ONNX file with the onnx package, and evaluates it independently of the dsl runtime.

  onnx_check.py check MODEL            checker (full check) and strict shape inference; prints "ok"
  onnx_check.py run MODEL IN OUT       reads float32 inputs [N, ...] from IN, writes the probabilities to OUT;
                                       prints which evaluator ran

`run` uses onnxruntime when it is installed; otherwise a small NumPy interpreter of the operators the exporter
writes, each written from the ONNX operator specification (opset 13), not from the dsl runtime's kernels.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    print("ok")


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def windows(x, kernel, strides, fill):
    """x [N, C, H, W] already padded -> [N, C, Ho, Wo, kh*kw] of the window values (floor rounding)."""
    (kh, kw), (sh, sw) = kernel, strides
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.full(x.shape[:2] + (ho, wo, kh * kw), fill)
    for r in range(kh):
        for s in range(kw):
            out[..., r * kw + s] = x[:, :, r:r + sh * (ho - 1) + 1:sh, s:s + sw * (wo - 1) + 1:sw]
    return out


def pad(x, pads, value):
    """ONNX pads for the spatial axes: [h_begin, w_begin, h_end, w_end]."""
    h0, w0, h1, w1 = pads
    return np.pad(x, ((0, 0), (0, 0), (h0, h1), (w0, w1)), constant_values=value)


def conv(x, w, b, a):
    groups = a.get("group", 1)
    k, cg, kh, kw = w.shape
    xs = windows(pad(x, a.get("pads", [0] * 4), 0.0), (kh, kw), a.get("strides", [1, 1]), 0.0)
    n, c, ho, wo, _ = xs.shape
    y = np.zeros((n, k, ho, wo))
    kg = k // groups
    for g in range(groups):
        xg = xs[:, g * cg:(g + 1) * cg]                      # [N, cg, Ho, Wo, kh*kw]
        wg = w[g * kg:(g + 1) * kg].reshape(kg, cg, kh * kw)  # [kg, cg, kh*kw]
        y[:, g * kg:(g + 1) * kg] = np.einsum("nchwr,kcr->nkhw", xg, wg)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def pool(x, a, op):
    # Padding is NaN so that max ignores it and the average can tell it from data.
    xs = windows(pad(x, a.get("pads", [0] * 4), np.nan), a["kernel_shape"], a.get("strides", [1, 1]), np.nan)
    if op == "MaxPool":
        return np.nanmax(xs, axis=-1)
    total = np.nansum(xs, axis=-1)
    if a.get("count_include_pad", 0):
        return total / xs.shape[-1]
    return total / np.sum(~np.isnan(xs), axis=-1)


def lrn(x, a):
    size, alpha, beta, bias = a["size"], a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0)
    lo, hi = (size - 1) // 2, -(-(size - 1) // 2)
    channels = x.shape[1]
    square = np.zeros_like(x)
    for c in range(channels):
        square[:, c] = np.sum(x[:, max(0, c - lo):min(channels - 1, c + hi) + 1] ** 2, axis=1)
    return x / (bias + alpha / size * square) ** beta


def channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def evaluate(model, x):
    values = {t.name: numpy_helper.to_array(t).astype(np.float64) if t.data_type == onnx.TensorProto.FLOAT
              else numpy_helper.to_array(t) for t in model.graph.initializer}
    values[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        i = [values[name] if name else None for name in node.input] + [None] * 5
        a, op = attrs(node), node.op_type
        if op == "Conv":
            y = conv(i[0], i[1], i[2], a)
        elif op in ("MaxPool", "AveragePool"):
            y = pool(i[0], a, op)
        elif op == "Pad":
            p = i[1]
            assert a.get("mode", b"constant") in (b"constant", "constant") and not p[:2].any() and not p[4:6].any()
            y = pad(i[0], [p[2], p[3], p[6], p[7]], 0.0 if i[2] is None else float(i[2]))
        elif op == "LRN":
            y = lrn(i[0], a)
        elif op == "Gemm":
            assert a.get("transB", 0) == 1 and not a.get("transA", 0)
            y = a.get("alpha", 1.0) * i[0] @ i[1].T + (0 if i[2] is None else a.get("beta", 1.0) * i[2])
        elif op == "BatchNormalization":
            x0, scale, bias, mean, var = i[:5]
            y = (x0 - channel(mean, x0)) / np.sqrt(channel(var, x0) + a.get("epsilon", 1e-5)) * channel(scale, x0) + channel(bias, x0)
        elif op == "Flatten":
            axis = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:axis])), -1)
        elif op == "Softmax":
            z = i[0] - i[0].max(axis=a.get("axis", -1), keepdims=True)
            y = np.exp(z) / np.exp(z).sum(axis=a.get("axis", -1), keepdims=True)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "LeakyRelu":
            y = np.where(i[0] > 0, i[0], a.get("alpha", 0.01) * i[0])
        elif op == "Tanh":
            y = np.tanh(i[0])
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif op == "Identity":
            y = i[0]
        else:
            raise NotImplementedError(op)
        values[node.output[0]] = y
    return values[model.graph.output[0].name]


def run(path, inputs, outputs):
    model = onnx.load(path)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    x = np.fromfile(inputs, dtype="<f4").reshape([-1] + dims)
    try:
        import onnxruntime
    except ImportError:
        onnxruntime = None
    if onnxruntime is not None:
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        y = session.run(None, {model.graph.input[0].name: x})[0]
        print("onnxruntime " + onnxruntime.__version__)
    else:
        y = evaluate(model, x)
        print("numpy interpreter (onnxruntime is not installed)")
    np.asarray(y, dtype="<f4").tofile(outputs)


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        run(sys.argv[2], sys.argv[3], sys.argv[4])
