"""Ops on symbolic values with unknown (None) dims: the inferred shapes and dtypes, and a
replay of the recorded primitives with their attrs on concrete arrays (what a functional
model does), which must give the eager result."""
import numpy as np
import pytest

from graphkit import ops
from graphkit.core.operators import OperatorMixin
from graphkit.core.tensor import Tensor
from graphkit.ops.primitive import infer_avals


class Sym(OperatorMixin):
    """A minimal symbolic value: shape and dtype only; binds are recorded for replay."""

    _bind_priority = 1
    _records_gradients = False
    trace = []

    def __init__(self, shape, dtype="float32"):
        self.shape, self.dtype = tuple(shape), dtype

    @property
    def ndim(self):
        return len(self.shape)

    @classmethod
    def _bind(cls, prim, args, attrs):
        outs = tuple(Sym(a.shape, a.dtype) for a in infer_avals(prim, args, attrs))
        cls.trace.append((prim, args, attrs, outs))
        return outs if prim.n_outputs > 1 else outs[0]


def replay(inputs, arrays, output):
    env = {id(s): a for s, a in zip(inputs, arrays)}
    for prim, args, attrs, outs in Sym.trace:
        vals = [env[id(a)] if isinstance(a, Sym) else a.numpy() for a in args]
        res = prim.eager(*vals, **attrs)
        for o, v in zip(outs, res if prim.n_outputs > 1 else (res,)):
            env[id(o)] = np.asarray(v)
    return env[id(output)]


RNG = np.random.default_rng(5)

# name -> (fn, symbolic input shapes/dtypes, concrete shapes, expected output shape)
CASES = {
    "mean_unknown_axis": (lambda x: ops.mean(x, axis=0), [((None, 4), "float32")], [(3, 4)],
                          (4,)),
    "logsumexp_first_axis": (lambda x: ops.logsumexp(x, axis=0),
                             [((None, None, 3), "float32")], [(2, 4, 3)], (None, 3)),
    "mean_all_unknown": (lambda x: ops.mean(x, axis=0), [((None, None, None), "float32")],
                         [(2, 1, 3)], (None, None)),
    "moments_first_axis": (lambda x: ops.moments(x, [0])[0] + ops.moments(x, [0])[1],
                           [((None, None, 3), "float32")], [(2, 4, 3)], (None, 3)),
    "var_unknown_axis": (lambda x: ops.var(x, axis=(0, 1), keepdims=True),
                         [((None, None, 2), "float32")], [(2, 3, 2)], (1, 1, 2)),
    "softmax": (lambda x: ops.softmax(x), [((None, 10), "float32")], [(2, 10)], (None, 10)),
    "getitem_last": (lambda x: x[:, -1], [((None, 5), "float32")], [(3, 5)], (None,)),
    "getitem_first_row": (lambda x: x[-1], [((None, 5), "float32")], [(3, 5)], (5,)),
    "getitem_mixed": (lambda x: x[..., 1:3, None], [((None, None, 5), "float32")],
                      [(2, 3, 5)], (None, None, 2, 1)),
    "getitem_reverse": (lambda x: x[::-1], [((None, 2), "float32")], [(4, 2)], (None, 2)),
    "reshape_flatten": (lambda x: ops.reshape(x, (-1, 20)), [((None, 4, 5), "float32")],
                        [(3, 4, 5)], (None, 20)),
    "expand_squeeze": (lambda x: ops.squeeze(ops.expand_dims(x, 2), 2),
                       [((None, None, 3), "float32")], [(2, 4, 3)], (None, None, 3)),
    "expand_front": (lambda x: ops.expand_dims(x, 0), [((None, None, 3), "float32")],
                     [(3, 5, 3)], (1, None, None, 3)),
    "squeeze_front": (lambda x: ops.squeeze(x, 0), [((1, None, None, 3), "float32")],
                      [(1, 3, 5, 3)], (None, None, 3)),
    "getitem_int_then_new": (lambda x: x[None, 0, :, None], [((None, None, 3), "float32")],
                             [(2, 3, 3)], (1, None, 1, 3)),
    "repeat_two_unknown": (lambda x: ops.repeat(x, 2, axis=2), [((None, None, 3), "float32")],
                           [(2, 3, 3)], (None, None, 6)),
    "tensordot_two_unknown": (lambda x, w: ops.tensordot(x, w, axes=([2, 3], [0, 1])),
                              [((None, None, 2, 4), "float32"), ((2, 4, 5), "float32")],
                              [(3, 2, 2, 4), (2, 4, 5)], (None, None, 5)),
    "einsum_merge_contract": (lambda x, w: ops.einsum("abcd,cde->abe", x, w),
                              [((None, None, 2, 4), "float32"), ((2, 4, 5), "float32")],
                              [(3, 2, 2, 4), (2, 4, 5)], (None, None, 5)),
    "expand_middle": (lambda x: ops.expand_dims(x, 2), [((None, None, 3), "float32")],
                      [(2, 4, 3)], (None, None, 1, 3)),
    "einsum_dense": (lambda x, w: ops.einsum("abc,cd->abd", x, w),
                     [((None, None, 4), "float32"), ((4, 6), "float32")], [(2, 3, 4), (4, 6)],
                     (None, None, 6)),
    "einsum_attention": (lambda q, k: ops.einsum("aecd,abcd->acbe", q, k),
                         [((None, 5, 2, 3), "float32"), ((None, 4, 2, 3), "float32")],
                         [(2, 5, 2, 3), (2, 4, 2, 3)], (None, 2, 4, 5)),
    "tensordot": (lambda x, w: ops.tensordot(x, w, axes=1),
                  [((None, 4), "float32"), ((4, 2, 3), "float32")], [(3, 4), (4, 2, 3)],
                  (None, 2, 3)),
    "matmul": (lambda x, w: ops.matmul(x, w), [((None, 3), "float32"), ((3, 4), "float32")],
               [(2, 3), (3, 4)], (None, 4)),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=-1),
                    [((None, 2), "float32"), ((None, 3), "float32")], [(4, 2), (4, 3)],
                    (None, 5)),
    "conv_same": (lambda x, w: ops.conv(x, w, strides=2, padding="same"),
                  [((None, None, None, 3), "float32"), ((3, 3, 3, 4), "float32")],
                  [(2, 7, 6, 3), (3, 3, 3, 4)], (None, None, None, 4)),
    "conv_valid_known_spatial": (lambda x, w: ops.conv(x, w),
                                 [((None, 8, 3), "float32"), ((3, 3, 4), "float32")],
                                 [(2, 8, 3), (3, 3, 4)], (None, 6, 4)),
    "max_pool_same": (lambda x: ops.max_pool(x, 2, padding="same"),
                      [((None, None, 5, 2), "float32")], [(1, 5, 5, 2)], (None, None, 3, 2)),
    "average_pool_same": (lambda x: ops.average_pool(x, 3, strides=2, padding="same"),
                          [((None, None, 2), "float32")], [(2, 7, 2)], (None, None, 2)),
    "sparse_ce": (lambda y, p: ops.sparse_categorical_crossentropy(y, p, from_logits=True),
                  [((None,), "int32"), ((None, 5), "float32")], [(3,), (3, 5)], (None,)),
    "one_hot": (lambda y: ops.one_hot(y, 4), [((None,), "int32")], [(3,)], (None, 4)),
    "repeat": (lambda x: ops.repeat(x, 2, axis=1), [((None, 3), "float32")], [(2, 3)],
               (None, 6)),
    "repeat_batch": (lambda x: ops.repeat(x, 2, axis=0), [((None, 3), "float32")], [(2, 3)],
                     (None, 3)),
    "take_embedding": (lambda i, w: ops.take(w, i, axis=0),
                       [((None, 7), "int32"), ((10, 4), "float32")], [(2, 7), (10, 4)],
                       (None, 7, 4)),
    "moments_layer_norm": (lambda x: (x - ops.moments(x, [-1], keepdims=True)[0])
                           * ops.rsqrt(ops.moments(x, [-1], keepdims=True)[1] + 1e-3),
                           [((None, None, 6), "float32")], [(2, 3, 6)], (None, None, 6)),
    "batch_moments": (lambda x: ops.moments(x, [0])[1], [((None, 6), "float32")], [(5, 6)],
                      (6,)),
    "broadcast_to": (lambda x: ops.broadcast_to(x, (None, 4)), [((None, 1), "float32")],
                     [(3, 1)], (None, 4)),
    "zeros_like": (lambda x: ops.zeros_like(x) + ops.ones_like(x, dtype="float32"),
                   [((None, 2), "float32")], [(3, 2)], (None, 2)),
    "tile": (lambda x: ops.tile(x, (1, 2)), [((None, 3), "float32")], [(2, 3)], (None, 6)),
    "split": (lambda x: ops.split(x, 2, axis=1)[1], [((None, 4), "float32")], [(2, 4)],
              (None, 2)),
    "pad": (lambda x: ops.pad(x, ((0, 0), (1, 2))), [((None, 3), "float32")], [(2, 3)],
            (None, 6)),
    "argmax": (lambda x: ops.argmax(x, axis=-1), [((None, 3), "float32")], [(2, 3)], (None,)),
    "stack": (lambda a, b: ops.stack([a, b], axis=1),
              [((None, 3), "float32"), ((None, 3), "float32")], [(2, 3), (2, 3)], (None, 2, 3)),
}


def _concrete(shape, dtype):
    if dtype.startswith("int"):
        return RNG.integers(0, 4, shape).astype(dtype)
    return RNG.uniform(-1, 1, shape).astype(dtype)


@pytest.mark.parametrize("name", sorted(CASES))
def test_symbolic_shape_and_replay(name):
    fn, specs, shapes, expected = CASES[name]
    Sym.trace = []
    syms = [Sym(s, d) for s, d in specs]
    out = fn(*syms)
    assert isinstance(out, Sym)
    assert out.shape == expected
    for prim, _, attrs, _ in Sym.trace:
        assert set(attrs) == set(prim.attr_names), f"{prim.name}: attrs {sorted(attrs)}"
        hash(tuple(attrs.items()))
    arrays = [_concrete(s, d) for s, (_, d) in zip(shapes, specs)]
    eager = fn(*[Tensor(a) for a in arrays])
    assert out.dtype == eager.dtype
    np.testing.assert_allclose(replay(syms, arrays, out), eager.numpy(), rtol=1e-6, atol=1e-6)


def test_shape_op_reports_unknown_dims():
    assert ops.shape(Sym((None, 3))) == (None, 3)
