import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.ops import linalg
from graphkit.ops.primitive import Aval, ShapeError

RNG = np.random.default_rng(3)


def r(*shape):
    return RNG.uniform(-1, 1, shape)


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((2, 1, 2, 3), (4, 3, 2)),
                                   ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)),
                                   ((4, 2, 3), (3,)), ((3,), (2, 3, 5))])
def test_matmul_matches_numpy(sa, sb):
    a, b = r(*sa), r(*sb)
    out = ops.matmul(a, b)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape and out.dtype == "float64"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_matmul_dtypes_and_operator():
    assert ops.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32)).dtype == "float32"
    ints = ops.matmul(np.ones((2, 2), np.int32), np.ones((2, 2), np.int32))
    assert ints.dtype == "int32"
    np.testing.assert_array_equal(ints.numpy(), [[2, 2], [2, 2]])
    x = gk.ops.convert_to_tensor(np.eye(2, dtype=np.float32))
    np.testing.assert_array_equal((x @ np.ones((2, 1), np.float32)).numpy(), np.ones((2, 1)))


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ShapeError, match=r"matmul: inner dimensions differ: x1 \(2, 3\) vs "
                                         r"x2 \(4, 5\)"):
        ops.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ShapeError, match=r"x1 \(3,\) vs x2 \(4,\)"):
        ops.matmul(np.ones(3), np.ones(4))


def test_matmul_infer_with_unknown_dims():
    f = "float32"
    assert linalg.MATMUL.infer(Aval((None, 5, 3), f), Aval((3, 4), f)) == Aval((None, 5, 4), f)
    assert linalg.MATMUL.infer(Aval((None, 3), f), Aval((None, 4), f)) == Aval((None, 4), f)
    with pytest.raises(ShapeError, match="inner dimensions differ"):
        linalg.MATMUL.infer(Aval((None, 3), f), Aval((2, 4), f))


@pytest.mark.parametrize("sa,sb", [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                                   ((2, 3, 4), (5, 4, 2)), ((3,), (2, 3, 4))])
def test_dot_matches_numpy(sa, sb):
    a, b = r(*sa), r(*sb)
    np.testing.assert_allclose(ops.dot(a, b).numpy(), np.dot(a, b), rtol=1e-12)


@pytest.mark.parametrize("axes", [2, 1, 0, ([1, 0], [0, 2]), ([2], [1]), (1, 0)])
def test_tensordot_matches_numpy(axes):
    a = r(3, 4, 5)
    b = r(4, 5, 2) if axes in (2, 1, 0) else r(4, 5, 3) if axes != ([2], [1]) else r(2, 5, 3)
    if axes == 1:
        b = r(5, 2)
    if axes == (1, 0):
        b = r(4, 6)
    if axes == ([1, 0], [0, 2]):
        b = r(4, 2, 3)
    np.testing.assert_allclose(ops.tensordot(a, b, axes=axes).numpy(),
                               np.tensordot(a, b, axes=axes), rtol=1e-12)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
    ("abcd,cde->abe", [(2, 3, 4, 5), (4, 5, 6)]),
    ("abc,cde->abde", [(2, 3, 4), (4, 5, 6)]),
    ("aecd,abcd->acbe", [(2, 3, 4, 5), (2, 6, 4, 5)]),
    ("acbe,aecd->abcd", [(2, 4, 6, 3), (2, 3, 4, 5)]),
    ("...b,bc->...c", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(2, 3, 4), (1, 4, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ab,ab->a", [(3, 4), (3, 4)]),
    ("ab,cb", [(3, 4), (2, 4)]),
    ("abc,c->ab", [(2, 3, 4), (4,)]),
    ("ij,kl->", [(2, 3), (4, 5)]),
])
def test_einsum_matches_numpy(eq, shapes):
    xs = [r(*s) for s in shapes]
    np.testing.assert_allclose(ops.einsum(eq, *xs).numpy(), np.einsum(eq, *xs), rtol=1e-10,
                               atol=1e-12)


def test_einsum_errors():
    with pytest.raises(ValueError, match="repeated index"):
        ops.einsum("ii->i", r(2, 2))
    with pytest.raises(ShapeError, match="einsum: subscripts 'ijk' do not match"):
        ops.einsum("ijk->i", r(2, 2))
    with pytest.raises(ValueError, match="names 2 operands, received 1"):
        ops.einsum("ij,jk->ik", r(2, 2))


def test_outer_inner_vdot_trace_norm():
    a, b = r(3), r(4)
    np.testing.assert_allclose(ops.outer(a, b).numpy(), np.outer(a, b))
    m = r(3, 4)
    np.testing.assert_allclose(ops.inner(m, r(2, 4) * 0 + 1).numpy(), np.inner(m, np.ones((2, 4))))
    np.testing.assert_allclose(ops.vdot(m, m).numpy(), np.vdot(m, m))
    sq = r(3, 3)
    np.testing.assert_allclose(ops.trace(sq).numpy(), np.trace(sq))
    np.testing.assert_allclose(ops.trace(sq, offset=1).numpy(), np.trace(sq, offset=1))
    np.testing.assert_allclose(ops.norm(m).numpy(), np.linalg.norm(m))
    np.testing.assert_allclose(ops.norm(m, axis=1).numpy(), np.linalg.norm(m, axis=1))
    np.testing.assert_allclose(ops.norm(m, ord=1, axis=0).numpy(), np.linalg.norm(m, 1, axis=0))
    np.testing.assert_allclose(ops.norm(m, ord=np.inf, axis=(0, 1)).numpy(),
                               np.linalg.norm(m, np.inf))
    np.testing.assert_allclose(ops.norm(m, ord=1, axis=(0, 1)).numpy(), np.linalg.norm(m, 1))


@pytest.mark.parametrize("eq, a_shape, b_shape, a_data, b_data, expected", [
    ("bqd,bkd->bqk", (None, 4), (None, 4), (2, 3, 4), (2, 5, 4), (None, None, None)),
    ("bqk,bkd->bqd", (None, None), (None, 4), (2, 3, 5), (2, 5, 4), (None, None, 4)),
    ("bqhd,bkhd->bhqk", (None, 2, 4), (None, 2, 4), (2, 3, 2, 4), (2, 5, 2, 4),
     (None, 2, None, None)),
])
def test_einsum_symbolic_with_unknown_batch_and_sequence_dims(eq, a_shape, b_shape, a_data,
                                                              b_data, expected):
    a, b = gk.Input(shape=a_shape), gk.Input(shape=b_shape)
    out = ops.einsum(eq, a, b)
    assert out.shape == expected
    rng = np.random.default_rng(0)
    x, y = rng.random(a_data).astype("float32"), rng.random(b_data).astype("float32")
    got = gk.Model([a, b], out).predict([x, y], verbose=0)
    np.testing.assert_allclose(got, np.einsum(eq, x, y), rtol=1e-5)
