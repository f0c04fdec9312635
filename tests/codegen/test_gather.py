"""Native gather kernels (graphkit/codegen/gather.py) give NumPy's results exactly: take,
take_along_axis, scatter_add and scatter_add_along_axis (repeated indices accumulate in
np.add.at's order), and an embedding gradient compiles with no interpreted kernel."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.ops.layout import SCATTER_ADD_ALONG_AXIS, TAKE_ALONG_AXIS
from graphkit.ops.primitive import bind

from .helpers import assert_same, native_outputs, random_data

RNG = np.random.default_rng(11)


pytestmark = pytest.mark.usefixtures("no_fallback")


def data(shape, dtype="float32"):
    return random_data(RNG, shape, dtype, int_span=1000)


def native(fn, *args):
    """gk.jit(fn)(*args) as arrays; every kernel native, at least one a gather kernel."""
    return native_outputs(fn, *args, kind="gather")



def indices(n, shape, dtype):
    """Indices into a dim of size n, negative ones (counted from the end) included."""
    return RNG.integers(-n, n, shape).astype(dtype)


@pytest.mark.parametrize("x_shape,axis,idx_shape,dtype,idx_dtype", [
    ((3, 4, 5), 1, (2, 3), "float32", "int32"),     # rows of 5 per index
    ((3, 4, 5), 2, (7,), "float64", "int64"),       # last axis: vector gathers
    ((6, 1), 0, (4,), "int32", "int64"),            # size-1 inner dim
    ((5, 2, 3), 0, (), "int64", "int32"),           # a scalar index
    ((4, 9), 1, (2, 2), "bool", "int32"),
])
def test_take(x_shape, axis, idx_shape, dtype, idx_dtype):
    x = data(x_shape, dtype)
    idx = indices(x_shape[axis], idx_shape, idx_dtype)
    (got,) = native(lambda a, i: ops.take(a, i, axis=axis), x, idx)
    assert_same(got, np.take(x, idx, axis=axis))


@pytest.mark.parametrize("x_shape,axis,k,idx_dtype", [
    ((3, 4, 5), 1, 7, "int32"), ((3, 4, 5), 2, 9, "int64"), ((8, 1), 0, 3, "int32")])
def test_take_along_axis(x_shape, axis, k, idx_dtype):
    x = data(x_shape, "float32")
    idx_shape = list(x_shape)
    idx_shape[axis] = k
    idx = indices(x_shape[axis], tuple(idx_shape), idx_dtype)
    (got,) = native(lambda a, i: bind(TAKE_ALONG_AXIS, a, i, axis=axis), x, idx)
    assert_same(got, np.take_along_axis(x, idx, axis=axis))


def add_at(x, index, updates):
    out = x.copy()
    np.add.at(out, index, updates)
    return out


@pytest.mark.parametrize("x_shape,axis,idx,dtype", [
    ((5, 3), 0, [1, -4, 1, 0, 4, 1], "float32"),    # an embedding gradient, duplicates
    ((2, 6, 4), 1, [5, 5, -1, 2], "float64"),
    ((3, 4), 1, [0, 0, 3, -1, 2], "int32"),         # inner == 1: scalar adds
    ((7,), 0, [6, 6, 6, 0], "int64"),
])
def test_scatter_add_accumulates_duplicates(x_shape, axis, idx, dtype):
    x = data(x_shape, dtype)
    idx = np.array(idx, np.int32)
    u_shape = x_shape[:axis] + idx.shape + x_shape[axis + 1:]
    u = data(u_shape, dtype)
    (got,) = native(lambda a, i, b: ops.scatter_add(a, i, b, axis=axis), x, idx, u)
    assert_same(got, add_at(x, (slice(None),) * axis + (idx,), u))


@pytest.mark.parametrize("x_shape,axis,k", [((3, 4, 5), 1, 7), ((3, 4, 5), 2, 6)])
def test_scatter_add_along_axis_accumulates_duplicates(x_shape, axis, k):
    x = data(x_shape, "float32")
    idx_shape = list(x_shape)
    idx_shape[axis] = k
    idx = indices(x_shape[axis], tuple(idx_shape), "int64")
    u = data(tuple(idx_shape), "float32")
    (got,) = native(lambda a, i, b: bind(SCATTER_ADD_ALONG_AXIS, a, i, b, axis=axis), x, idx, u)
    grid = np.ogrid[tuple(slice(0, d) for d in idx.shape)]
    index = tuple(idx if a == axis else grid[a] for a in range(len(x_shape)))
    assert_same(got, add_at(x, index, u))


def test_big_embedding_gather_and_scatter_run_on_the_pool():
    table = data((1000, 96), "float32")
    ids = RNG.integers(0, 50, (64, 32)).astype(np.int32)    # many duplicates
    upd = data((64, 32, 96), "float32")
    (got,) = native(lambda t, i: ops.take(t, i, axis=0), table, ids)
    assert_same(got, table[ids])
    (got,) = native(lambda t, i, u: ops.scatter_add(t, i, u, axis=0), table, ids, upd)
    assert_same(got, add_at(table, ids, upd))


def test_out_of_range_indices_are_clamped_natively():
    # Eagerly they raise; native code cannot, so it clamps (memory stays safe).
    x = data((4, 3), "float32")
    idx = np.array([7, -9, 2], np.int32)
    (got,) = native(lambda a, i: ops.take(a, i, axis=0), x, idx)
    assert_same(got, x[[3, 0, 2]])


def test_an_unsupported_dtype_names_the_op_and_dtypes():
    x = np.zeros((4, 2), bool)
    f = gk.jit(lambda a, i: ops.scatter_add(a, i, ops.ones((3, 2), "bool"), axis=0))
    with pytest.raises(Exception, match="scatter_add.*bool"):
        f.lower(x, np.array([0, 1, 1], np.int32)).compile()


def test_embedding_gradient_compiles_with_no_interpreted_kernel():
    table = gk.Variable(data((20, 8), "float32"))
    ids = np.array([[3, 3, 19], [0, -1, 3]], np.int32)
    w = data((8,), "float32")

    def loss_and_grad(i, v):
        with gk.GradientTape() as tape:
            emb = ops.take(table, i, axis=0)
            loss = ops.sum(ops.tanh(ops.matmul(emb, v)))
        return loss, tape.gradient(loss, table)

    loss, grad = native(loss_and_grad, ids, w)
    emb = table.numpy()[ids].astype(np.float64)
    d = (1 - np.tanh(emb @ w) ** 2)[..., None] * w            # d loss / d emb
    want = np.zeros((20, 8))
    np.add.at(want, ids, d)
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, np.tanh(emb @ w).sum(), rtol=1e-5)


def test_value_and_grad_of_a_take_through_its_table_argument():
    table = data((9, 4), "float32")
    ids = np.array([8, -1, 0, 8], np.int64)
    loss_fn = gk.value_and_grad(lambda t, i: ops.sum(ops.square(ops.take(t, i, axis=0))))
    loss, grad = native(loss_fn, table, ids)
    want = np.zeros((9, 4), np.float32)
    np.add.at(want, ids, 2 * table[ids])
    np.testing.assert_allclose(grad, want, rtol=1e-6)
    np.testing.assert_allclose(loss, np.sum(table[ids] ** 2), rtol=1e-6)
