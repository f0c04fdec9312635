"""W5 cnn_infer: Conv2D(32, 3x3, relu, valid) -> Conv2D(64, 3x3, relu, valid) -> MaxPool 2x2
-> Flatten -> Dense(128, relu) -> Dense(10), forward, NHWC, x (64, 28, 28, 1).

Weights are in Keras layout (conv kernels HWIO, Flatten in NHWC order). PyTorch, ONNX Runtime
and tinygrad work in NCHW: they get the kernels as OIHW and the first Dense kernel's rows
permuted to NCHW flatten order (a one-time weight conversion, as exporters do). The input
has one channel, so its NHWC and NCHW layouts are the same memory: no per-call transpose.
"""
import numpy as np

from benchmarks import peers
from benchmarks.harness import Runner
from benchmarks.workloads.base import Workload, f64, glorot_uniform, memoized_reference, rng
from benchmarks.workloads.dense_stack import (graphkit_runner, keras_runner, onnx_model,
                                              ort_runner)

BATCH, SIDE = 64, 28
CONV1, CONV2, HIDDEN, CLASSES = 32, 64, 128, 10
POOLED = (SIDE - 4) // 2                      # 28 -> 26 -> 24 -> 12
FLAT = POOLED * POOLED * CONV2


def make_data():
    gen = rng(5)
    conv = lambda cin, cout: glorot_uniform(gen, 9 * cin, 9 * cout, (3, 3, cin, cout))
    bias = lambda n: (0.1 * gen.standard_normal(n)).astype(np.float32)
    params = [conv(1, CONV1), bias(CONV1), conv(CONV1, CONV2), bias(CONV2),
              glorot_uniform(gen, FLAT, HIDDEN), bias(HIDDEN),
              glorot_uniform(gen, HIDDEN, CLASSES), bias(CLASSES)]
    return {"params": params,
            "x": gen.uniform(0.0, 1.0, (BATCH, SIDE, SIDE, 1)).astype(np.float32)}


# --- NumPy: im2col + matmul ---

def numpy_conv_relu(x, kernel, bias):
    kh, kw, cin, cout = kernel.shape
    n, h, w, _ = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    cols = np.empty((n, oh, ow, kh, kw, cin), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = x[:, i:i + oh, j:j + ow, :]
    out = cols.reshape(n * oh * ow, kh * kw * cin) @ kernel.reshape(kh * kw * cin, cout)
    out += bias
    np.maximum(out, 0, out=out)
    return out.reshape(n, oh, ow, cout)


def numpy_forward(params, x):
    k1, b1, k2, b2, w3, b3, w4, b4 = params
    h = numpy_conv_relu(numpy_conv_relu(x, k1, b1), k2, b2)
    n, oh, ow, c = h.shape
    h = h.reshape(n, oh // 2, 2, ow // 2, 2, c).max(axis=(2, 4)).reshape(n, -1)
    h = h @ w3
    h += b3
    np.maximum(h, 0, out=h)
    return h @ w4 + b4


def _reference(data):
    return numpy_forward(f64(data["params"]), f64([data["x"]])[0])


def nchw_params(params):
    """Kernels HWIO -> OIHW, first Dense kernel rows (h, w, c) -> (c, h, w)."""
    k1, b1, k2, b2, w3, b3, w4, b4 = params
    oihw = lambda k: np.ascontiguousarray(k.transpose(3, 2, 0, 1))
    w3 = np.ascontiguousarray(
        w3.reshape(POOLED, POOLED, CONV2, HIDDEN).transpose(2, 0, 1, 3).reshape(FLAT, HIDDEN))
    return [oihw(k1), b1, oihw(k2), b2, w3, b3, w4, b4]


def nchw_input(x):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# --- JAX ---

def jax_peer(d):
    jax = peers.jax()
    lax = jax.lax

    def forward(params, x):
        k1, b1, k2, b2, w3, b3, w4, b4 = params
        conv = lambda h, k, b: jax.nn.relu(lax.conv_general_dilated(
            h, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")) + b)
        h = conv(conv(x, k1, b1), k2, b2)
        h = lax.reduce_window(h, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        h = jax.nn.relu(h.reshape(h.shape[0], -1) @ w3 + b3)
        return h @ w4 + b4

    fn = jax.jit(forward)
    p = [jax.device_put(a) for a in d["params"]]
    x = jax.device_put(d["x"])
    return Runner(call=lambda: fn(p, x).block_until_ready())


# --- PyTorch ---

def torch_peer(d, compiled):
    torch = peers.torch()
    F = torch.nn.functional
    p = [torch.from_numpy(a) for a in nchw_params(d["params"])]
    x = torch.from_numpy(nchw_input(d["x"]))

    def forward(params, xx):
        k1, b1, k2, b2, w3, b3, w4, b4 = params
        h = F.relu(F.conv2d(F.relu(F.conv2d(xx, k1, b1)), k2, b2))
        h = F.max_pool2d(h, 2).flatten(1)
        return torch.addmm(b4, torch.relu(torch.addmm(b3, h, w3)), w4)

    fn = torch.compile(forward) if compiled else forward

    def call():
        with torch.inference_mode():
            return fn(p, x)
    return Runner(call=call)


# --- ONNX Runtime ---

def onnx_peer(d):
    onnx = peers.onnx()
    helper, TensorProto = onnx.helper, onnx.TensorProto
    names = ["k1", "b1", "k2", "b2", "w3", "b3", "w4", "b4"]
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in zip(nchw_params(d["params"]), names)]
    node = helper.make_node
    nodes = [node("Conv", ["x", "k1", "b1"], ["c1"], kernel_shape=[3, 3]),
             node("Relu", ["c1"], ["r1"]),
             node("Conv", ["r1", "k2", "b2"], ["c2"], kernel_shape=[3, 3]),
             node("Relu", ["c2"], ["r2"]),
             node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             node("Flatten", ["p"], ["f"], axis=1),
             node("Gemm", ["f", "w3", "b3"], ["g3"]), node("Relu", ["g3"], ["r3"]),
             node("Gemm", ["r3", "w4", "b4"], ["y"])]
    graph = helper.make_graph(
        nodes, "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [BATCH, 1, SIDE, SIDE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [BATCH, CLASSES])], inits)
    return ort_runner(onnx_model(graph), {"x": nchw_input(d["x"])})


# --- Keras 3 and graphkit: the same user code ---

def keras_style_cnn(k, params):
    inputs = k.Input(shape=(SIDE, SIDE, 1))
    h = k.layers.Conv2D(CONV1, 3, activation="relu")(inputs)
    h = k.layers.Conv2D(CONV2, 3, activation="relu")(h)
    h = k.layers.MaxPooling2D(2)(h)
    h = k.layers.Flatten()(h)
    h = k.layers.Dense(HIDDEN, activation="relu")(h)
    model = k.Model(inputs, k.layers.Dense(CLASSES)(h))
    model.set_weights(params)
    return model


# --- tinygrad ---

def tinygrad_peer(d):
    tinygrad = peers.tinygrad()
    Tensor = tinygrad.Tensor
    k1, b1, k2, b2, w3, b3, w4, b4 = [Tensor(a).realize() for a in nchw_params(d["params"])]
    x = Tensor(nchw_input(d["x"])).realize()

    @tinygrad.TinyJit
    def forward(xx):
        h = xx.conv2d(k1, b1).relu().conv2d(k2, b2).relu().max_pool2d((2, 2)).flatten(1)
        return ((h @ w3 + b3).relu() @ w4 + b4).realize()

    def call():
        out = forward(x)
        peers.tinygrad_sync()
        return out
    return Runner(call=call)


def _graphkit(d, compiled):
    return graphkit_runner(keras_style_cnn(peers.graphkit(), d["params"]), d["x"],
                           compiled=compiled)


_FLOPS = 2 * BATCH * (26 * 26 * 9 * 1 * CONV1 + 24 * 24 * 9 * CONV1 * CONV2
                      + FLAT * HIDDEN + HIDDEN * CLASSES)
WORKLOAD = Workload(
    id="W5", name="cnn_infer",
    what="Conv(32)-Conv(64)-MaxPool-Flatten-Dense(128)-Dense(10), NHWC x(64,28,28,1)",
    make_data=make_data, reference=memoized_reference(_reference),
    peers={
        "numpy": lambda d: Runner(call=lambda: numpy_forward(d["params"], d["x"])),
        "jax.jit": jax_peer,
        "torch eager": lambda d: torch_peer(d, False),
        "torch.compile": lambda d: torch_peer(d, True),
        "onnxruntime": onnx_peer,
        "keras (jax)": lambda d: keras_runner(keras_style_cnn(peers.keras(), d["params"]),
                                              d["x"]),
        "tinygrad": tinygrad_peer,
        "graphkit eager": lambda d: _graphkit(d, False),
        "graphkit compiled": lambda d: _graphkit(d, True),
    },
    tolerance=2e-4,
    flops=_FLOPS,
)
