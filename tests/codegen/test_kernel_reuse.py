"""Identical kernels share their code: the second one's sub-kernels are the first one's,
called on its own buffers, in the same chunk or from a later one (lower_kernel.py)."""
import re

import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.codegen import chunks

RNG = np.random.default_rng(11)


def _two_identical_layers(x, w1, w2, b1, b2):
    """Two GEMM + bias + relu kernels of the same shapes, and one of other shapes."""
    h1 = ops.relu(ops.matmul(x, w1) + b1)
    h2 = ops.relu(ops.matmul(x * 2.0, w2) + b2)
    return h1, h2, ops.matmul(ops.transpose(h1), h2)


def _inputs():
    return [RNG.standard_normal(s).astype(np.float32)
            for s in ((24, 40), (40, 48), (40, 48), (48,), (48,))]


def _run(fn, args):
    native = gk.jit(fn, backend="llvm")
    got = [np.asarray(v) for v in gk.tree.flatten(native(*args))]
    exe = next(iter(native._cache.values())).executable
    return exe, got


def _defined_tiles(exe):
    text = exe.as_text("llvm")
    return re.findall(r'^define [^@]*@"(k\d+_\d+)\.task\.tile"', text, re.M)


@pytest.mark.parametrize("limit", [None, 50])   # one chunk; about one chunk per kernel
def test_identical_kernels_share_one_copy_and_keep_their_own_buffers(monkeypatch, limit):
    if limit is not None:
        monkeypatch.setattr(chunks, "CHUNK_INSTRUCTIONS", limit)
    args = _inputs()
    exe, got = _run(_two_identical_layers, args)
    assert exe.stats()["interpreted_kernels"] == []
    x, w1, w2, b1, b2 = args
    h1 = np.maximum(x @ w1 + b1, 0)
    h2 = np.maximum((x * 2) @ w2 + b2, 0)
    for g, w in zip(got, (h1, h2, h1.T @ h2)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    # three GEMM kernels, two of them identical: two microkernels are emitted
    assert len(_defined_tiles(exe)) == 2
    if limit is not None:
        assert len(exe._module) >= 3


def test_kernels_differing_in_a_constant_are_not_shared():
    def fn(x, y):
        return ops.exp(x) * 2.0, ops.exp(y) * 3.0 + ops.sum(x)
    x, y = (RNG.standard_normal((8, 33)).astype(np.float32) for _ in range(2))
    exe, got = _run(fn, [x, y])
    np.testing.assert_allclose(got[0], np.exp(x) * 2, rtol=1e-5)
    np.testing.assert_allclose(got[1], np.exp(y) * 3 + x.sum(), rtol=1e-4)



def _kernel_node(fn, x):
    graph = gk.jit(fn).lower(x).graph
    return next(n for n in graph.nodes if n.op == "kernel")


def test_scalar_constants_are_written_into_the_code_and_tell_kernels_apart():
    """Scalar graph constants become literals of the kernel, not operands; two kernels that
    differ only in them are not the same code; a max against 0 keeps NaN as NumPy does."""
    from llvmlite import ir

    from graphkit.codegen.lower_kernel import _structure_key, lower_kernel
    x = RNG.standard_normal((7, 33)).astype(np.float32)
    x[0, :4] = [np.nan, -np.nan, np.inf, -np.inf]
    twice = _kernel_node(lambda v: ops.maximum(v, 0.0) * 2.0, x)
    thrice = _kernel_node(lambda v: ops.maximum(v, 0.0) * 3.0, x)
    assert _structure_key(twice) != _structure_key(thrice)
    lowering = lower_kernel(ir.Module(), twice)
    passed = [key[1] for sub in lowering.subkernels for key in sub.args if key[0] == "value"]
    assert all(v.producer is None or v.producer.op != "constant" for v in passed)
    exe, (got,) = _run(lambda v: [ops.maximum(v, 0.0) * 2.0], [x])
    np.testing.assert_array_equal(got, np.maximum(x, 0.0) * 2.0)
