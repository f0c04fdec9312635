"""A matmul whose B is a variable the graph only reads keeps B packed from call to call
(matmul.emit_matmul(prepacked_b=True), lower_kernel's `stable` values): packed again for a
new B array or a new state version (`Variable.ASSIGNMENTS`), reused otherwise."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from graphkit.codegen.matmul import PREPACK_HEADER, MatmulShape, emit_matmul

from .helpers import call, compile_kernels, workspace

RNG = np.random.default_rng(5)
SHAPES = [(13, 40, 70), (9, 17, 33), (96, 128, 320)]  # (m, k, n): partial panels; the last on 2 threads


@pytest.fixture(scope="module")
def kernels():
    emitters = {f"mm{m}_{k}_{n}": (lambda m, k, n: lambda mod, name: emit_matmul(
        mod, name, MatmulShape(m=m, k=k, n=n), prepacked_b=True))(m, k, n)
        for m, k, n in SHAPES}
    return compile_kernels(emitters)


@pytest.mark.parametrize("m, k, n", SHAPES)
def test_b_is_packed_once_per_array_and_version(kernels, m, k, n):
    fns, specs = kernels
    name = f"mm{m}_{k}_{n}"
    spec = specs[name]
    assert spec.prepacked_bytes > PREPACK_HEADER
    assert spec.parallel == (m * k * n >= 96 * 128 * 320)
    a = RNG.standard_normal((m, k)).astype(np.float32)
    b = RNG.standard_normal((k, n)).astype(np.float32)
    c = np.empty((m, n), np.float32)
    packed = workspace(spec.prepacked_bytes)
    version = np.array([7], np.int64)
    ws = workspace(spec.workspace_bytes)

    def run():
        call(fns[name], [a, b, c, packed, version, ws])
        return c.copy()

    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(run(), want, rtol=1e-5, atol=1e-4)
    old = b.copy()
    b *= 2.0                      # same array, same version: the kept packing is used
    np.testing.assert_allclose(run(), a.astype(np.float64) @ old, rtol=1e-5, atol=1e-4)
    version[0] += 1               # a new version packs again
    np.testing.assert_allclose(run(), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)
    b_copy = b.copy() * -1.0      # a new array (same version) packs again
    b = b_copy
    np.testing.assert_allclose(run(), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)


def _mlp():
    model = gk.Sequential([gk.Input((24,)), layers.Dense(40, activation="relu"),
                           layers.Dense(7)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    return model


def _eager(model, x):
    return model(gk.ops.convert_to_tensor(x)).numpy()   # a model call runs eagerly


def test_compiled_inference_sees_every_change_of_the_weights():
    """Assigns (new arrays), set_weights, and a compiled fit updating the weights in
    place between two inference calls: each result is the eager one."""
    model = _mlp()
    x = RNG.standard_normal((32, 24)).astype(np.float32)
    y = RNG.standard_normal((32, 7)).astype(np.float32)
    f = gk.jit(lambda x: model(x))
    exe = f.lower(x).compile().executable
    assert exe.stats()["interpreted_kernels"] == [] and exe._version is not None

    def same():
        np.testing.assert_allclose(f(x).numpy(), _eager(model, x), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(model.predict(x, verbose=0), _eager(model, x), rtol=1e-5,
                                   atol=1e-5)
    same()
    kernel = model.layers[0].kernel
    kernel.assign(kernel.numpy() * -0.5)
    same()
    model.set_weights([w * 1.5 for w in model.get_weights()])
    same()
    for _ in range(2):               # the second fit updates the step's own arrays in place
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        same()
    model.train_on_batch(x, y)
    same()


def test_only_variables_the_graph_does_not_write_are_kept_packed():
    from graphkit.codegen.backend import LLVMExecutable
    model = _mlp()
    x = RNG.standard_normal((32, 24)).astype(np.float32)
    w = RNG.standard_normal((24, 40)).astype(np.float32)
    inference = gk.jit(lambda x: model(x)).lower(x).compile().executable
    data_b = gk.jit(lambda a, b: gk.ops.matmul(a, b)).lower(x, w).compile().executable
    train = model.train_function.lower(x, RNG.standard_normal((32, 7)).astype(np.float32))
    train = train.compile().executable
    for exe, kept in ((inference, True), (data_b, False), (train, False)):
        assert isinstance(exe, LLVMExecutable)
        assert (exe._version is not None) is kept
