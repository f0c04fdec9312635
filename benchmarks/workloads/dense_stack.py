"""A stack of Dense layers (relu between, linear last, optional softmax) in every framework.

Shared by W1 mlp_infer, W3 mlp_train and W6 tiny_latency. Weights are in Keras layout:
[kernel (in, out), bias, kernel, bias, ...].
"""
import numpy as np

from benchmarks import peers
from benchmarks.harness import Runner


# --- NumPy (the hand-written peer and, in float64, the reference) ---

def numpy_softmax(logits):
    out = logits - logits.max(axis=-1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def numpy_forward(params, x, softmax=False, keep=None):
    """Forward pass; `keep` (a list) receives the hidden activations for a backward pass."""
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i]
        h += params[2 * i + 1]
        if i < n_layers - 1:
            np.maximum(h, 0, out=h)
        if keep is not None:
            keep.append(h)
    return numpy_softmax(h) if softmax else h


def numpy_runner(params, x, softmax):
    return Runner(call=lambda: numpy_forward(params, x, softmax))


# --- JAX ---

def jax_forward(params, x, softmax=False):
    jax = peers.jax()
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n_layers - 1:
            h = jax.nn.relu(h)
    return jax.nn.softmax(h, axis=-1) if softmax else h


def jax_runner(params, x, softmax):
    jax = peers.jax()
    fn = jax.jit(lambda p, xx: jax_forward(p, xx, softmax))
    p = [jax.device_put(a) for a in params]
    xj = jax.device_put(x)
    return Runner(call=lambda: fn(p, xj).block_until_ready())


# --- PyTorch ---

def torch_forward(torch, params, x, softmax=False):
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = torch.addmm(params[2 * i + 1], h, params[2 * i])
        if i < n_layers - 1:
            h = torch.relu(h)
    return torch.softmax(h, dim=-1) if softmax else h


def torch_runner(params, x, softmax, compiled):
    torch = peers.torch()
    p = [torch.from_numpy(a.copy()) for a in params]
    xt = torch.from_numpy(x.copy())
    fn = (lambda pp, xx: torch_forward(torch, pp, xx, softmax))
    if compiled:
        fn = torch.compile(fn)

    def call():
        with torch.inference_mode():
            return fn(p, xt)
    return Runner(call=call)


# --- ONNX Runtime (graph built with the onnx helper API) ---

def onnx_dense_model(params, batch, softmax):
    onnx = peers.onnx()
    helper, TensorProto = onnx.helper, onnx.TensorProto
    inits, nodes = [], []
    h = "x"
    n_layers = len(params) // 2
    for i in range(n_layers):
        w, b = f"w{i}", f"b{i}"
        inits += [onnx.numpy_helper.from_array(params[2 * i], w),
                  onnx.numpy_helper.from_array(params[2 * i + 1], b)]
        out = f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, w, b], [out]))
        if i < n_layers - 1:
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"]))
            out = f"h{i}"
        h = out
    if softmax:
        nodes.append(helper.make_node("Softmax", [h], ["y"], axis=-1))
    else:
        nodes.append(helper.make_node("Identity", [h], ["y"]))
    graph = helper.make_graph(
        nodes, "dense_stack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, params[0].shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, params[-1].shape[0]])],
        inits)
    return onnx_model(graph)


def onnx_model(graph, opset=17):
    onnx = peers.onnx()
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 10)  # what current ONNX Runtime releases accept
    onnx.checker.check_model(model)
    return model


def ort_runner(model_proto, feeds):
    session = peers.ort_session(model_proto)
    return Runner(call=lambda: session.run(None, feeds)[0])


# --- Keras 3 and graphkit: the same user code, `k` is the keras or graphkit module ---

def keras_style_model(k, params, softmax):
    """Functional model of Dense layers, exactly as a Keras user writes it."""
    inputs = k.Input(shape=(params[0].shape[0],))
    h = inputs
    n_layers = len(params) // 2
    for i in range(n_layers):
        units = params[2 * i].shape[1]
        h = k.layers.Dense(units, activation="relu" if i < n_layers - 1 else None)(h)
    if softmax:
        h = k.layers.Activation("softmax")(h)
    model = k.Model(inputs, h)
    model.set_weights(params)
    return model


def keras_runner(model, *inputs):
    feed = inputs[0] if len(inputs) == 1 else list(inputs)
    return Runner(call=lambda: model.predict_on_batch(feed))


def graphkit_runner(model, *inputs, compiled):
    """graphkit eager (`model(x)`) or compiled (`gk.jit` of the same call)."""
    gk = peers.graphkit()
    feed = inputs[0] if len(inputs) == 1 else list(inputs)
    if not compiled:
        return Runner(call=lambda: model(feed))

    @gk.jit
    def forward(x):
        return model(x)
    return Runner(call=lambda: forward(feed), stats=lambda: lowered_stats(forward, feed))


def lowered_stats(jitted, *args):
    """SPEC's `f.lower(*args).stats()`, plus the memory plan where the stats lack it."""
    lowered = jitted.lower(*args)
    stats = dict(lowered.stats())
    plan = getattr(lowered, "memory_plan", None)
    if "memory" not in stats and plan is not None:
        stats["memory"] = {"arena_bytes": plan.arena_bytes,
                           "intermediate_bytes": plan.intermediate_bytes}
    return stats


# --- tinygrad ---

def tinygrad_forward(params, x, softmax=False):
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n_layers - 1:
            h = h.relu()
    return h.softmax(-1) if softmax else h


def tinygrad_runner(params, x, softmax):
    tinygrad = peers.tinygrad()
    Tensor, TinyJit = tinygrad.Tensor, tinygrad.TinyJit
    p = [Tensor(a).realize() for a in params]
    xt = Tensor(x).realize()
    fn = TinyJit(lambda xx: tinygrad_forward(p, xx, softmax).realize())

    def call():
        out = fn(xt)
        peers.tinygrad_sync()
        return out
    return Runner(call=call)


def inference_peers(data_params, data_input, softmax, batch):
    """The peer table of a Dense-stack inference workload (W1, W6)."""
    def model_for(module_of):
        return lambda d: keras_style_model(module_of(), d[data_params], softmax)
    return {
        "numpy": lambda d: numpy_runner(d[data_params], d[data_input], softmax),
        "jax.jit": lambda d: jax_runner(d[data_params], d[data_input], softmax),
        "torch eager": lambda d: torch_runner(d[data_params], d[data_input], softmax, False),
        "torch.compile": lambda d: torch_runner(d[data_params], d[data_input], softmax, True),
        "onnxruntime": lambda d: ort_runner(onnx_dense_model(d[data_params], batch, softmax),
                                            {"x": d[data_input]}),
        "keras (jax)": lambda d: keras_runner(model_for(peers.keras)(d), d[data_input]),
        "tinygrad": lambda d: tinygrad_runner(d[data_params], d[data_input], softmax),
        "graphkit eager": lambda d: graphkit_runner(model_for(peers.graphkit)(d),
                                                    d[data_input], compiled=False),
        "graphkit compiled": lambda d: graphkit_runner(model_for(peers.graphkit)(d),
                                                       d[data_input], compiled=True),
    }
