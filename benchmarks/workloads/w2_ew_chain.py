"""W2 ew_chain: tanh(x*1.5 + y) * sigmoid(y) + maximum(x - y, 0) * 0.5 on x, y (2048, 2048).

Memory-bound: the floor is reading x and y and writing the result once.
"""
import types

import numpy as np

from benchmarks import peers
from benchmarks.harness import Runner
from benchmarks.workloads.base import Workload, memoized_reference, rng
from benchmarks.workloads.dense_stack import keras_runner, lowered_stats, onnx_model, ort_runner

SHAPE = (2048, 2048)


def make_data():
    gen = rng(2)
    return {"x": gen.standard_normal(SHAPE, dtype=np.float32),
            "y": gen.standard_normal(SHAPE, dtype=np.float32)}


def _reference(data):
    x, y = data["x"].astype(np.float64), data["y"].astype(np.float64)
    return np.tanh(x * 1.5 + y) / (1.0 + np.exp(-y)) + np.maximum(x - y, 0.0) * 0.5


def ew_chain(ops, x, y):
    """The workload as user code over an ops module (jax.numpy-like, keras.ops, gk.ops)."""
    return ops.tanh(x * 1.5 + y) * ops.sigmoid(y) + ops.maximum(x - y, 0.0) * 0.5


def numpy_naive(d):
    x, y = d["x"], d["y"]
    return Runner(call=lambda: np.tanh(x * 1.5 + y) * (1.0 / (1.0 + np.exp(-y)))
                  + np.maximum(x - y, 0.0) * 0.5)


def numpy_in_place(d):
    x, y = d["x"], d["y"]
    a, b = np.empty_like(x), np.empty_like(x)

    def call():
        np.multiply(x, 1.5, out=a)
        np.add(a, y, out=a)
        np.tanh(a, out=a)
        np.negative(y, out=b)
        np.exp(b, out=b)
        np.add(b, 1.0, out=b)
        np.divide(a, b, out=a)      # tanh(...) * sigmoid(y) == tanh(...) / (1 + exp(-y))
        np.subtract(x, y, out=b)
        np.maximum(b, 0.0, out=b)
        np.multiply(b, 0.5, out=b)
        np.add(a, b, out=a)
        return a
    return Runner(call=call)


def jax_peer(d):
    jax = peers.jax()
    ops = types.SimpleNamespace(tanh=jax.numpy.tanh, sigmoid=jax.nn.sigmoid,
                                maximum=jax.numpy.maximum)
    fn = jax.jit(lambda x, y: ew_chain(ops, x, y))
    x, y = jax.device_put(d["x"]), jax.device_put(d["y"])
    return Runner(call=lambda: fn(x, y).block_until_ready())


def torch_peer(d, compiled):
    torch = peers.torch()
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    ops = types.SimpleNamespace(tanh=torch.tanh, sigmoid=torch.sigmoid,
                                maximum=torch.clamp_min)  # torch.maximum takes no scalar

    def fn(a, b):
        return ew_chain(ops, a, b)
    if compiled:
        fn = torch.compile(fn)

    def call():
        with torch.inference_mode():
            return fn(x, y)
    return Runner(call=call)


def onnx_peer(d):
    onnx = peers.onnx()
    helper, TensorProto = onnx.helper, onnx.TensorProto
    consts = [onnx.numpy_helper.from_array(np.array(v, np.float32), n)
              for n, v in (("c15", 1.5), ("c05", 0.5), ("zero", 0.0))]
    node = helper.make_node
    nodes = [node("Mul", ["x", "c15"], ["t0"]), node("Add", ["t0", "y"], ["t1"]),
             node("Tanh", ["t1"], ["t2"]), node("Sigmoid", ["y"], ["t3"]),
             node("Mul", ["t2", "t3"], ["t4"]), node("Sub", ["x", "y"], ["t5"]),
             node("Max", ["t5", "zero"], ["t6"]), node("Mul", ["t6", "c05"], ["t7"]),
             node("Add", ["t4", "t7"], ["out"])]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(SHAPE)) for n in "xy"]
    graph = helper.make_graph(nodes, "ew_chain", io,
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT,
                                                             list(SHAPE))], consts)
    return ort_runner(onnx_model(graph), {"x": d["x"], "y": d["y"]})


def keras_style_model(k):
    x = k.Input(shape=SHAPE[1:], name="x")
    y = k.Input(shape=SHAPE[1:], name="y")
    return k.Model([x, y], ew_chain(k.ops, x, y))


def tinygrad_peer(d):
    tinygrad = peers.tinygrad()
    Tensor = tinygrad.Tensor
    x, y = Tensor(d["x"]).realize(), Tensor(d["y"]).realize()
    fn = tinygrad.TinyJit(lambda a, b: (
        (a * 1.5 + b).tanh() * b.sigmoid() + (a - b).maximum(0.0) * 0.5).realize())

    def call():
        out = fn(x, y)
        peers.tinygrad_sync()
        return out
    return Runner(call=call)


def numba_peer(d):
    numba = peers.numba()
    import math

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def kernel(x, y, out):
        for i in numba.prange(x.size):
            a, b = x[i], y[i]
            out[i] = math.tanh(a * 1.5 + b) / (1.0 + math.exp(-b)) + max(a - b, 0.0) * 0.5

    x, y = d["x"].ravel(), d["y"].ravel()
    out = np.empty_like(x)

    def call():
        kernel(x, y, out)
        return out.reshape(SHAPE)
    return Runner(call=call, note="fastmath, prange")


def graphkit_peer(d, compiled):
    gk = peers.graphkit()
    x, y = gk.ops.convert_to_tensor(d["x"]), gk.ops.convert_to_tensor(d["y"])
    if not compiled:
        return Runner(call=lambda: ew_chain(gk.ops, x, y))
    fn = gk.jit(lambda a, b: ew_chain(gk.ops, a, b))
    return Runner(call=lambda: fn(x, y), stats=lambda: lowered_stats(fn, x, y))


WORKLOAD = Workload(
    id="W2", name="ew_chain", what="tanh(x*1.5+y)*sigmoid(y)+maximum(x-y,0)*0.5, x,y (2048,2048)",
    make_data=make_data, reference=memoized_reference(_reference),
    peers={
        "numpy": numpy_naive,
        "numpy (in place)": numpy_in_place,
        "jax.jit": jax_peer,
        "torch eager": lambda d: torch_peer(d, False),
        "torch.compile": lambda d: torch_peer(d, True),
        "onnxruntime": onnx_peer,
        "keras (jax)": lambda d: keras_runner(keras_style_model(peers.keras()), d["x"], d["y"]),
        "tinygrad": tinygrad_peer,
        "numba": numba_peer,
        "graphkit eager": lambda d: graphkit_peer(d, False),
        "graphkit compiled": lambda d: graphkit_peer(d, True),
    },
    tolerance=1e-5,
    bytes=3 * SHAPE[0] * SHAPE[1] * 4,
)
