import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.ops import layout
from graphkit.ops.primitive import Aval, ShapeError

RNG = np.random.default_rng(2)
X = RNG.uniform(-1, 1, (3, 4, 5)).astype(np.float32)


def test_reshape_with_minus_one_and_errors():
    np.testing.assert_array_equal(ops.reshape(X, (4, -1)).numpy(), X.reshape(4, -1))
    np.testing.assert_array_equal(ops.reshape(X, 60).numpy(), X.reshape(60))
    with pytest.raises(ShapeError, match=r"reshape: cannot reshape a tensor of shape \(3, 4, 5\)"
                                         r" \(60 elements\) into shape \(7, -1\)"):
        ops.reshape(X, (7, -1))
    with pytest.raises(ShapeError, match="reshape: .* into shape \\(2, 2\\) \\(4 elements\\)"):
        ops.reshape(X, (2, 2))
    with pytest.raises(ShapeError, match="at most one dimension may be -1"):
        ops.reshape(X, (-1, -1))


def test_transpose_moveaxis_swapaxes():
    np.testing.assert_array_equal(ops.transpose(X).numpy(), X.T)
    np.testing.assert_array_equal(ops.transpose(X, (1, 0, 2)).numpy(), X.transpose(1, 0, 2))
    np.testing.assert_array_equal(ops.moveaxis(X, 0, -1).numpy(), np.moveaxis(X, 0, -1))
    np.testing.assert_array_equal(ops.moveaxis(X, (0, 1), (2, 0)).numpy(),
                                  np.moveaxis(X, (0, 1), (2, 0)))
    np.testing.assert_array_equal(ops.swapaxes(X, 0, 2).numpy(), np.swapaxes(X, 0, 2))
    np.testing.assert_array_equal(gk.ops.convert_to_tensor(X).T.numpy(), X.T)
    with pytest.raises(ShapeError, match="transpose: axes \\(0, 0, 1\\) are not a permutation"):
        ops.transpose(X, (0, 0, 1))


def test_expand_dims_squeeze():
    assert ops.expand_dims(X, 1).shape == (3, 1, 4, 5)
    assert ops.expand_dims(X, -1).shape == (3, 4, 5, 1)
    assert ops.expand_dims(X, (0, 2)).shape == np.expand_dims(X, (0, 2)).shape
    y = np.ones((1, 3, 1))
    assert ops.squeeze(y).shape == (3,)
    assert ops.squeeze(y, axis=-1).shape == (1, 3)
    with pytest.raises(ShapeError, match="squeeze: cannot squeeze axis 1 .* its size is 3"):
        ops.squeeze(y, axis=1)


def test_broadcast_to():
    np.testing.assert_array_equal(ops.broadcast_to(X[0, 0], (2, 5)).numpy(),
                                  np.broadcast_to(X[0, 0], (2, 5)))
    with pytest.raises(ShapeError, match="broadcast_to"):
        ops.broadcast_to(np.ones(3), (2, 4))


@pytest.mark.parametrize("key", [
    1, -1, (slice(None), 2), (Ellipsis, -2), (slice(1, None), slice(None, None, -2)),
    (slice(None, None, -1), 0, slice(3, 0, -1)), (None, 1, Ellipsis, None),
    (slice(-2, None), None, slice(None, 2)), [2, 0, 0], (slice(None), [3, 1]),
    (0, [1, 1, 2]), (Ellipsis, [4, 0]), (slice(5, 10),), (slice(None, None, 3), 1, 2),
    (np.array([[0, 1], [2, 2]]),), (slice(None), np.int64(2), slice(None, None, 2)),
])
def test_getitem_matches_numpy(key):
    out = gk.ops.convert_to_tensor(X)[key]
    expected = X[key]
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


def test_getitem_with_tensor_index_and_errors():
    t = gk.ops.convert_to_tensor(X)
    np.testing.assert_array_equal(t[ops.convert_to_tensor([2, 0])].numpy(), X[[2, 0]])
    with pytest.raises(IndexError, match="getitem: index 3 is out of bounds for axis 0"):
        t[3]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0, 0]
    np.testing.assert_array_equal(t[X > 0].numpy(), X[X > 0])   # eager: the mask is data
    with pytest.raises(IndexError, match="only one integer-array index"):
        t[[0], [1]]


def test_slice_keras_signature_and_flip():
    np.testing.assert_array_equal(ops.slice(X, (1, 0, 2), (2, 3, 2)).numpy(), X[1:3, 0:3, 2:4])
    with pytest.raises(ShapeError, match="slice: block of shape"):
        ops.slice(X, (2, 0, 0), (2, 1, 1))
    np.testing.assert_array_equal(ops.flip(X, 1).numpy(), np.flip(X, 1))
    np.testing.assert_array_equal(ops.flip(X).numpy(), np.flip(X))


@pytest.mark.parametrize("mode", ["constant", "reflect", "symmetric", "edge"])
def test_pad_modes_match_numpy(mode):
    pw = ((1, 2), (0, 1), (2, 0))
    np.testing.assert_array_equal(ops.pad(X, pw, mode=mode).numpy(), np.pad(X, pw, mode=mode))


def test_pad_constant_value_and_errors():
    np.testing.assert_array_equal(ops.pad(np.ones(2, np.int32), (1, 1), constant_values=7).numpy(),
                                  [7, 1, 1, 7])
    with pytest.raises(ShapeError, match="pad: `pad_width`"):
        ops.pad(X, ((1, 1), (1, 1)))
    with pytest.raises(ShapeError, match="non-negative"):
        ops.pad(X, -1)


def test_interior_padding_primitive():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = layout._pad(gk.ops.convert_to_tensor(x), ((1, 0, 1), (0, 2, 2)), 0.0).numpy()
    expected = np.zeros((4, 6))
    expected[1::2, 0:4:3] = x
    np.testing.assert_array_equal(out, expected)


def test_concatenate_stack_split_unstack():
    a, b = X[:, :2], X[:, 2:]
    np.testing.assert_array_equal(ops.concatenate([a, b], axis=1).numpy(), X)
    np.testing.assert_array_equal(ops.concatenate([a, b], axis=None).numpy(),
                                  np.concatenate([a, b], axis=None))
    assert ops.concatenate([np.ones(2, np.int32), np.ones(2, np.float32)]).dtype == "float32"
    np.testing.assert_array_equal(ops.stack([X, X], axis=1).numpy(), np.stack([X, X], axis=1))
    for p, q in zip(ops.split(X, 2, axis=1), np.split(X, 2, axis=1)):
        np.testing.assert_array_equal(p.numpy(), q)
    for p, q in zip(ops.split(X, [1, 3], axis=-1), np.split(X, [1, 3], axis=-1)):
        np.testing.assert_array_equal(p.numpy(), q)
    parts = ops.unstack(X, axis=1)
    assert len(parts) == 4 and parts[2].shape == (3, 5)
    with pytest.raises(ShapeError, match=r"concatenate: shapes \(3, 2, 5\), \(3, 2, 4\) differ "
                                         r"on axis 2"):
        ops.concatenate([a, b[..., :4]], axis=1)
    with pytest.raises(ShapeError, match="split: axis 1 of shape .* does not divide into 3"):
        ops.split(X, 3, axis=1)


def test_tile_repeat_roll_tril_triu():
    np.testing.assert_array_equal(ops.tile(X[0], (2, 1, 3)).numpy(), np.tile(X[0], (2, 1, 3)))
    np.testing.assert_array_equal(ops.tile(X[0, 0], 2).numpy(), np.tile(X[0, 0], 2))
    np.testing.assert_array_equal(ops.repeat(X, 2, axis=1).numpy(), np.repeat(X, 2, axis=1))
    np.testing.assert_array_equal(ops.repeat(X[0], [1, 0, 2, 1], axis=0).numpy(),
                                  np.repeat(X[0], [1, 0, 2, 1], axis=0))
    np.testing.assert_array_equal(ops.repeat(X[0], 2).numpy(), np.repeat(X[0], 2))
    np.testing.assert_array_equal(ops.roll(X, 2, axis=2).numpy(), np.roll(X, 2, axis=2))
    np.testing.assert_array_equal(ops.roll(X, -1).numpy(), np.roll(X, -1))
    np.testing.assert_array_equal(ops.tril(X, -1).numpy(), np.tril(X, -1))
    np.testing.assert_array_equal(ops.triu(X[0], 1).numpy(), np.triu(X[0], 1))


def test_take_and_take_along_axis():
    idx = np.array([[0, 2], [1, -1]])
    np.testing.assert_array_equal(ops.take(X, idx, axis=1).numpy(), np.take(X, idx, axis=1))
    np.testing.assert_array_equal(ops.take(X, [5, 0]).numpy(), np.take(X, [5, 0]))
    along = RNG.integers(0, 5, (3, 4, 2))
    np.testing.assert_array_equal(ops.take_along_axis(X, along, axis=2).numpy(),
                                  np.take_along_axis(X, along, axis=2))
    # Keras broadcasts the other axes.
    out = ops.take_along_axis(X, np.array([[[1]], [[0]], [[4]]]), axis=2)
    np.testing.assert_array_equal(out.numpy(), np.take_along_axis(
        X, np.broadcast_to(np.array([[[1]], [[0]], [[4]]]), (3, 4, 1)), axis=2))
    with pytest.raises(IndexError, match="take: "):
        ops.take(X, [7], axis=1)


def test_scatter_add_accumulates_repeats():
    out = ops.scatter_add(np.zeros((4, 2)), np.array([1, 1, 3]), np.ones((3, 2)))
    np.testing.assert_array_equal(out.numpy(), [[0, 0], [2, 2], [0, 0], [1, 1]])


def test_shape_ndim_size():
    assert ops.shape(X) == (3, 4, 5)
    assert ops.ndim(X) == 3 and ops.size(X) == 60


# -- infer rules with unknown dims ---------------------------------------------------------

def test_layout_infer_rules_with_unknown_dims():
    f = "float32"
    assert layout.RESHAPE.infer(Aval((None, 4, 5), f), shape=(-1, 20)) == Aval((None, 20), f)
    assert layout.RESHAPE.infer(Aval((3, 4), f), shape=(-1, 6)) == Aval((2, 6), f)
    assert layout.TRANSPOSE.infer(Aval((None, 3), f), perm=(1, 0)) == Aval((3, None), f)
    assert layout.BROADCAST_TO.infer(Aval((None, 1), f), shape=(None, 4)) == Aval((None, 4), f)
    assert layout.CONCATENATE.infer(Aval((None, 2), f), Aval((None, 3), f), axis=1) == \
        Aval((None, 5), f)
    assert layout.CONCATENATE.infer(Aval((None, 2), f), Aval((4, 2), f), axis=0) == \
        Aval((None, 2), f)
    assert layout.SLICE.infer(Aval((None, 6), f), index=((None, None, 1), (1, 5, 2))) == \
        Aval((None, 2), f)
    assert layout.PAD.infer(Aval((None, 3), f), pads=((1, 1, 0), (0, 2, 1)), value=0.0) == \
        Aval((None, 7), f)
    assert layout.TAKE.infer(Aval((None, 7), f), Aval((2, 3), "int32"), axis=1) == \
        Aval((None, 2, 3), f)
    with pytest.raises(ShapeError, match="take: indices must be integers"):
        layout.TAKE.infer(Aval((4,), f), Aval((2,), f), axis=0)
    with pytest.raises(ShapeError, match="concatenate: all inputs must have the same rank"):
        layout.CONCATENATE.infer(Aval((None, 2), f), Aval((2,), f), axis=0)


def test_symbolic_kernels_resolve_unknown_dims_at_run_time():
    """A functional graph replays primitives with attrs recorded in symbolic mode."""
    x = np.ones((6, 4), np.float32)
    assert layout.RESHAPE.eager(x, shape=(None, 2, 2)).shape == (6, 2, 2)
    assert layout.BROADCAST_TO.eager(x[:, :1], shape=(None, 3)).shape == (6, 3)
    shape = (layout.carried_dim(1), 1, layout.carried_dim(0), 4)
    assert layout.RESHAPE.eager(np.ones((3, 5, 4)), shape=shape).shape == (5, 1, 3, 4)
    assert layout.RESHAPE.infer(Aval((None, None, 4), f := "float32"), shape=shape) == \
        Aval((None, 1, None, 4), f)
    with pytest.raises(ShapeError, match="several unknown dims"):
        layout.RESHAPE.eager(np.ones((2, 3, 4)), shape=(None, None, 4))


@pytest.mark.parametrize("k", [-2, 0, 1])
def test_diag_diagonal(k):
    v = np.arange(1.0, 4.0)
    np.testing.assert_array_equal(ops.diag(v, k).numpy(), np.diag(v, k))
    m = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(ops.diag(m, k).numpy(), np.diag(m, k))
    np.testing.assert_array_equal(ops.diagonal(X, k, 1, 2).numpy(), np.diagonal(X, k, 1, 2))


def test_hstack_vstack_slice_update():
    np.testing.assert_array_equal(ops.hstack([np.ones(2), np.zeros(1)]).numpy(),
                                  np.hstack([np.ones(2), np.zeros(1)]))
    np.testing.assert_array_equal(ops.vstack([np.ones(2), np.zeros((2, 2))]).numpy(),
                                  np.vstack([np.ones(2), np.zeros((2, 2))]))
    out = ops.slice_update(np.zeros((3, 4)), (1, 2), np.ones((2, 2)))
    expected = np.zeros((3, 4))
    expected[1:, 2:] = 1
    np.testing.assert_array_equal(out.numpy(), expected)
    with pytest.raises(ShapeError, match="slice_update: updates of shape"):
        ops.slice_update(np.zeros((3, 4)), (2, 2), np.ones((2, 2)))


def test_roll_of_an_unknown_axis_raises_instead_of_doing_nothing():
    x = gk.Input(shape=(None, 4))
    with pytest.raises(ShapeError, match="roll: axis 1 .* static size"):
        ops.roll(x, 1, axis=1)
    assert ops.roll(x, 1, axis=2).shape == (None, None, 4)


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "edge"])
def test_pad_modes_along_an_unknown_axis(mode):
    x = gk.Input(shape=(None, 3))
    pads = [[0, 0], [2, 1], [0, 0]]
    out = ops.pad(x, pads, mode=mode)
    assert out.shape == (None, None, 3)
    data = np.arange(30, dtype="float32").reshape(2, 5, 3)
    np.testing.assert_array_equal(gk.Model(x, out).predict(data, verbose=0),
                                  np.pad(data, pads, mode=mode))


@pytest.mark.parametrize("op", ["tril", "triu"])
def test_triangles_of_unknown_sizes_name_the_op(op):
    """Attention scores of Input(shape=(None, d)) are (None, None, None): the triangle needs
    its sizes when the graph is built, so it says so (it was a bare TypeError of arange)."""
    s = gk.Input(shape=(None, None))
    with pytest.raises(ShapeError, match=f"{op}: the last two dims must be known"):
        getattr(ops, op)(s, k=1)
    assert getattr(ops, op)(gk.Input(shape=(3, 4))).shape == (None, 3, 4)


@pytest.mark.parametrize("key", [
    lambda a: a > 5,                                   # a mask of x's shape
    lambda a: a[:, :, 0] > 5,                          # over the leading axes
    lambda a: (np.array([True, False]),),              # one axis
    lambda a: (slice(None), np.array([True, False, True])),
    lambda a: (0, np.array([True, False, True]), slice(1, 3)),
    lambda a: ([True, False],),                        # a list of bools is a mask too
])
def test_boolean_masks_index_eagerly_like_numpy(key):
    a = np.arange(24.0, dtype="float32").reshape(2, 3, 4)
    x = ops.convert_to_tensor(a)
    np.testing.assert_array_equal(x[key(a)].numpy(), a[key(a)])


def test_boolean_mask_gradient_and_refusal_where_shapes_are_static():
    a = np.arange(24.0, dtype="float32").reshape(2, 3, 4)
    x = ops.convert_to_tensor(a)
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(x[x > 10.0] * 2.0)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.where(a > 10, 2.0, 0.0))
    with pytest.raises(IndexError, match="data-dependent shape"):
        gk.jit(lambda x: x[x > 1.0])(a)
    i = gk.Input((3,))
    with pytest.raises(IndexError, match="data-dependent shape"):
        i[i > 0]
    with pytest.raises(IndexError, match="does not fit"):
        x[np.array([True, False, True])]


def test_broadcast_to_kernel_is_np_broadcast_to_view():
    # The kernel builds the view itself (np.broadcast_to is slow Python): same values,
    # strides and read-only flag, sharing the operand's memory.
    from graphkit.ops.layout import _broadcast_to_kernel
    a = np.arange(210, dtype="float32").reshape(5, 6, 7)
    cases = [(np.array(1.5, "float32"), (64,)), (np.ones((64, 1)), (64, 784)),
             (a, (2, 5, 6, 7)), (a[:, :1, :], (5, 6, 7)), (a[:, ::2, :], (3, 5, 3, 7)),
             (a.T, (2, 7, 6, 5)), (a[1:3], (2, 6, 7)), (np.arange(3)[::-1], (4, 3)),
             (np.ones((0, 1)), (0, 5)), (np.ones((1, 3), bool), (2, 1, 3)),
             (np.ones((1, 3)), (0, 3))]
    for x, shape in cases:
        got, want = _broadcast_to_kernel(x, shape), np.broadcast_to(x, shape)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert not got.flags.writeable
        np.testing.assert_array_equal(got, want)
        if got.size:
            assert got.strides == want.strides and np.shares_memory(got, x)
    with pytest.raises(ValueError):
        _broadcast_to_kernel(np.ones(3), (4,))
