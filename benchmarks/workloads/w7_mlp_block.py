"""W7 mlp_block: x + Dense(768)(gelu_tanh(Dense(3072)(layer_norm(x)))), eps 1e-5, learned
scale and shift, x (512, 768). Two compute-bound matmuls with cheap work around them.
"""
import math

import numpy as np

from benchmarks import peers
from benchmarks.harness import Runner
from benchmarks.workloads.base import Workload, f64, glorot_uniform, memoized_reference, rng
from benchmarks.workloads.dense_stack import (graphkit_runner, keras_runner, onnx_model,
                                              ort_runner)

ROWS, WIDTH, HIDDEN, LN_EPS = 512, 768, 3072, 1e-5
GELU_C = math.sqrt(2.0 / math.pi)


def make_data():
    gen = rng(7)
    params = [(1.0 + 0.1 * gen.standard_normal(WIDTH)).astype(np.float32),    # gamma
              (0.1 * gen.standard_normal(WIDTH)).astype(np.float32),          # beta
              glorot_uniform(gen, WIDTH, HIDDEN),
              (0.1 * gen.standard_normal(HIDDEN)).astype(np.float32),
              glorot_uniform(gen, HIDDEN, WIDTH),
              (0.1 * gen.standard_normal(WIDTH)).astype(np.float32)]
    return {"params": params, "x": gen.standard_normal((ROWS, WIDTH)).astype(np.float32)}


def numpy_forward(params, x):
    gamma, beta, w1, b1, w2, b2 = params
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    var = np.mean(centered * centered, axis=-1, keepdims=True)
    h = centered / np.sqrt(var + LN_EPS) * gamma + beta
    h = h @ w1
    h += b1
    inner = h * h
    inner *= 0.044715 * h
    inner += h
    inner *= GELU_C
    np.tanh(inner, out=inner)
    inner += 1.0
    h *= 0.5
    h *= inner
    out = h @ w2
    out += b2
    out += x
    return out


def _reference(data):
    return numpy_forward(f64(data["params"]), f64([data["x"]])[0])


def jax_peer(d):
    jax = peers.jax()
    jnp = jax.numpy

    def forward(params, x):
        gamma, beta, w1, b1, w2, b2 = params
        mean = x.mean(-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), -1, keepdims=True)
        h = (x - mean) * jax.lax.rsqrt(var + LN_EPS) * gamma + beta
        h = jax.nn.gelu(h @ w1 + b1, approximate=True)
        return x + h @ w2 + b2

    fn = jax.jit(forward)
    p = [jax.device_put(a) for a in d["params"]]
    x = jax.device_put(d["x"])
    return Runner(call=lambda: fn(p, x).block_until_ready())


def torch_peer(d, compiled):
    torch = peers.torch()
    F = torch.nn.functional
    p = [torch.from_numpy(a) for a in d["params"]]
    x = torch.from_numpy(d["x"])

    def forward(params, xx):
        gamma, beta, w1, b1, w2, b2 = params
        h = F.layer_norm(xx, (WIDTH,), gamma, beta, LN_EPS)
        h = F.gelu(torch.addmm(b1, h, w1), approximate="tanh")
        return torch.addmm(b2, h, w2) + xx

    fn = torch.compile(forward) if compiled else forward

    def call():
        with torch.inference_mode():
            return fn(p, x)
    return Runner(call=call)


def onnx_peer(d):
    onnx = peers.onnx()
    helper, TensorProto = onnx.helper, onnx.TensorProto
    names = ["gamma", "beta", "w1", "b1", "w2", "b2"]
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in zip(d["params"], names)]
    node = helper.make_node
    nodes = [node("LayerNormalization", ["x", "gamma", "beta"], ["ln"], axis=-1, epsilon=LN_EPS),
             node("MatMul", ["ln", "w1"], ["m1"]), node("Add", ["m1", "b1"], ["a1"]),
             node("Gelu", ["a1"], ["g"], approximate="tanh"),
             node("MatMul", ["g", "w2"], ["m2"]), node("Add", ["m2", "b2"], ["a2"]),
             node("Add", ["a2", "x"], ["y"])]
    shape = [ROWS, WIDTH]
    graph = helper.make_graph(nodes, "mlp_block",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                              inits)
    return ort_runner(onnx_model(graph, opset=20), {"x": d["x"]})  # Gelu needs opset 20


def keras_style_block(k, params):
    inputs = k.Input(shape=(WIDTH,))
    h = k.layers.LayerNormalization(epsilon=LN_EPS)(inputs)
    h = k.layers.Dense(HIDDEN)(h)
    h = k.ops.gelu(h, approximate=True)
    h = k.layers.Dense(WIDTH)(h)
    model = k.Model(inputs, k.layers.Add()([inputs, h]))
    model.set_weights(params)
    return model


def tinygrad_peer(d):
    tinygrad = peers.tinygrad()
    Tensor = tinygrad.Tensor
    gamma, beta, w1, b1, w2, b2 = [Tensor(a).realize() for a in d["params"]]
    x = Tensor(d["x"]).realize()

    @tinygrad.TinyJit
    def forward(xx):
        h = xx.layernorm(eps=LN_EPS) * gamma + beta
        h = (h @ w1 + b1).gelu()                      # tinygrad's gelu is the tanh form
        return (xx + h @ w2 + b2).realize()

    def call():
        out = forward(x)
        peers.tinygrad_sync()
        return out
    return Runner(call=call)


def _graphkit(d, compiled):
    return graphkit_runner(keras_style_block(peers.graphkit(), d["params"]), d["x"],
                           compiled=compiled)


WORKLOAD = Workload(
    id="W7", name="mlp_block",
    what="x + Dense(768)(gelu_tanh(Dense(3072)(layer_norm(x)))), x(512,768)",
    make_data=make_data, reference=memoized_reference(_reference),
    peers={
        "numpy": lambda d: Runner(call=lambda: numpy_forward(d["params"], d["x"])),
        "jax.jit": jax_peer,
        "torch eager": lambda d: torch_peer(d, False),
        "torch.compile": lambda d: torch_peer(d, True),
        "onnxruntime": onnx_peer,
        "keras (jax)": lambda d: keras_runner(keras_style_block(peers.keras(), d["params"]),
                                              d["x"]),
        "tinygrad": tinygrad_peer,
        "graphkit eager": lambda d: _graphkit(d, False),
        "graphkit compiled": lambda d: _graphkit(d, True),
    },
    tolerance=5e-4,
    flops=2 * ROWS * WIDTH * HIDDEN * 2,
)
