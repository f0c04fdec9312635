import itertools
import math

import numpy as np
import pytest

from graphkit import config, ops
from graphkit.ops import nn
from graphkit.ops.primitive import Aval, ShapeError

RNG = np.random.default_rng(4)


def r(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape)


# -- activations -------------------------------------------------------------------------

X = np.linspace(-6, 6, 25)
_erf = np.vectorize(math.erf)
ACTIVATIONS = [
    ("relu", lambda x: np.maximum(x, 0)),
    ("relu6", lambda x: np.clip(x, 0, 6)),
    ("leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x)),
    ("elu", lambda x: np.where(x > 0, x, np.expm1(x))),
    ("selu", lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    ("silu", lambda x: x / (1 + np.exp(-x))),
    ("swish", lambda x: x / (1 + np.exp(-x))),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("softplus", lambda x: np.log1p(np.exp(x))),
    ("softsign", lambda x: x / (1 + np.abs(x))),
    ("log_sigmoid", lambda x: -np.log1p(np.exp(-x))),
    ("hard_sigmoid", lambda x: np.clip(x + 3, 0, 6) / 6),
    ("hard_silu", lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("gelu", lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
]


@pytest.mark.parametrize("name,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations_match_numpy(name, ref):
    out = getattr(ops, name)(X.astype(np.float32))
    assert out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), ref(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(getattr(ops, name)(X).numpy(), ref(X), rtol=1e-12, atol=1e-13)


def test_gelu_exact_and_softplus_extremes():
    np.testing.assert_allclose(ops.gelu(X, approximate=False).numpy(),
                               0.5 * X * (1 + _erf(X / np.sqrt(2))), rtol=1e-12)
    big = np.array([-1000.0, 1000.0], np.float32)
    np.testing.assert_allclose(ops.softplus(big).numpy(), [0.0, 1000.0])
    np.testing.assert_allclose(ops.leaky_relu(np.array([-1.0]), negative_slope=0.5).numpy(),
                               [-0.5])
    np.testing.assert_allclose(ops.elu(np.array([-1.0]), alpha=2.0).numpy(), [2 * np.expm1(-1)])


def test_relu_keeps_int_dtype():
    out = ops.relu(np.array([-2, 3], np.int32))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy(), [0, 3])


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
def test_softmax_log_softmax(axis):
    x = r(3, 4, lo=-5, hi=5)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    sm = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(ops.softmax(x, axis=axis).numpy(), sm, rtol=1e-12)
    np.testing.assert_allclose(ops.log_softmax(x, axis=axis).numpy(), np.log(sm), rtol=1e-12)
    big = np.array([[1000.0, 0.0]], np.float32)
    np.testing.assert_allclose(ops.softmax(big).numpy(), [[1.0, 0.0]])
    assert np.isfinite(ops.log_softmax(big).numpy()).all()


def test_composite_op_axis_errors_name_the_op():
    # The errors used to name the inner op: `max` for softmax, `logsumexp` for log_softmax,
    # `mean` for moments.
    x = r(3, 4)
    with pytest.raises(ShapeError, match="^softmax: axis 5 is out of range for a tensor of rank 2"):
        ops.softmax(x, axis=5)
    with pytest.raises(ShapeError, match="^log_softmax: axis -3 is out of range"):
        ops.log_softmax(x, axis=-3)
    import graphkit as gk
    with pytest.raises(ShapeError, match="^softmax: axis 2 is out of range"):
        ops.softmax(gk.KerasTensor((None, 4)), axis=2)  # symbolic mode too
    with pytest.raises(ShapeError, match="^moments: axis 5 is out of range"):  # named mean
        ops.moments(x, axes=[5])


def test_normalize():
    x = r(3, 4)
    np.testing.assert_allclose(ops.normalize(x).numpy(),
                               x / np.linalg.norm(x, axis=-1, keepdims=True), rtol=1e-12)


def test_one_hot():
    out = ops.one_hot(np.array([0, 2, -1, 3]), 3)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(out.numpy(), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    out = ops.one_hot(np.array([[1, 0]]), 2, axis=0, dtype="int32")
    assert out.shape == (2, 1, 2) and out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy()[:, 0, :], [[0, 1], [1, 0]])
    np.testing.assert_array_equal(ops.multi_hot(np.array([[0, 2], [1, 1]]), 3).numpy(),
                                  [[1, 0, 1], [0, 1, 0]])


# -- cross-entropies ---------------------------------------------------------------------

def _eps_clip(p):
    eps = config.epsilon()
    return np.clip(p, eps, 1 - eps)


def test_binary_crossentropy():
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    p = np.array([[0.1, 0.8], [1.0, 0.3]])
    pc = _eps_clip(p)
    np.testing.assert_allclose(ops.binary_crossentropy(y, p).numpy(),
                               -(y * np.log(pc) + (1 - y) * np.log(1 - pc)), rtol=1e-10)
    logits = np.array([[-50.0, 2.0], [3.0, 60.0]])
    log_sig = -np.logaddexp(0, -logits)
    log_one_minus_sig = -np.logaddexp(0, logits)
    expected = -(y * log_sig + (1 - y) * log_one_minus_sig)
    out = ops.binary_crossentropy(y, logits, from_logits=True).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-8)
    with pytest.raises(ValueError, match="binary_crossentropy: arguments `target` and `output` "
                                         "must have the same rank"):
        ops.binary_crossentropy(np.ones(2), np.ones((2, 1)))


def test_categorical_crossentropy():
    y = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    p = np.array([[0.2, 0.6, 0.4], [0.0, 0.5, 0.5]])  # unnormalized: Keras rescales first
    pn = _eps_clip(p / p.sum(-1, keepdims=True))
    np.testing.assert_allclose(ops.categorical_crossentropy(y, p).numpy(),
                               -(y * np.log(pn)).sum(-1), rtol=1e-10)
    logits = r(2, 3, lo=-3, hi=3)
    ls = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(
        ops.categorical_crossentropy(y, logits, from_logits=True).numpy(), -(y * ls).sum(-1),
        rtol=1e-10)
    np.testing.assert_allclose(
        ops.categorical_crossentropy(y.T, logits.T, from_logits=True, axis=0).numpy(),
        -(y * ls).sum(-1), rtol=1e-10)


def test_sparse_categorical_crossentropy():
    labels = np.array([1, 0, 2])
    logits = r(3, 3, lo=-3, hi=3)
    ls = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -ls[np.arange(3), labels]
    np.testing.assert_allclose(
        ops.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy(),
        expected, rtol=1e-10)
    np.testing.assert_allclose(
        ops.sparse_categorical_crossentropy(labels[:, None], logits, from_logits=True).numpy(),
        expected, rtol=1e-10)
    probs = np.exp(ls)
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy(labels, probs).numpy(),
                               expected, rtol=1e-6)
    with pytest.raises(ValueError, match="must have the same shape up until the last dimension"):
        ops.sparse_categorical_crossentropy(np.array([1, 0]), logits)


# -- normalization -----------------------------------------------------------------------

def test_moments_and_batch_normalization():
    x = r(4, 3, 5)
    m, v = ops.moments(x, axes=[0, 2])
    np.testing.assert_allclose(m.numpy(), x.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(v.numpy(), x.var(axis=(0, 2)), rtol=1e-12)
    mk, vk = ops.moments(x, axes=[-1], keepdims=True)
    assert mk.shape == (4, 3, 1) and vk.shape == (4, 3, 1)
    m16, v16 = ops.moments(x.astype(np.float16), axes=[0])
    assert m16.dtype == "float16" and v16.dtype == "float16"
    scale, offset = r(3), r(3)
    out = ops.batch_normalization(x, m, v, axis=1, offset=offset, scale=scale, epsilon=1e-3)
    expected = (x - m.numpy()[:, None]) / np.sqrt(v.numpy()[:, None] + 1e-3) * scale[:, None] \
        + offset[:, None]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
    plain = ops.batch_normalization(x, m, v, axis=1)
    np.testing.assert_allclose(plain.numpy(),
                               (x - m.numpy()[:, None]) / np.sqrt(v.numpy()[:, None] + 1e-3),
                               rtol=1e-10)


# -- conv and pooling against direct loops -----------------------------------------------

def conv_reference(x, w, strides, pads, dilation, groups):
    n = x.ndim - 2
    xp = np.pad(x, [(0, 0)] + list(pads) + [(0, 0)])
    k = w.shape[:n]
    cg, cout = w.shape[-2], w.shape[-1]
    cog = cout // groups
    out_sp = [(xp.shape[1 + i] - ((k[i] - 1) * dilation[i] + 1)) // strides[i] + 1
              for i in range(n)]
    out = np.zeros((x.shape[0], *out_sp, cout))
    for pos in itertools.product(*(range(o) for o in out_sp)):
        for off in itertools.product(*(range(kk) for kk in k)):
            src = tuple(p * s + o * d for p, s, o, d in zip(pos, strides, off, dilation))
            patch = xp[(slice(None),) + src]  # (N, Cin)
            for g in range(groups):
                out[(slice(None),) + pos + (slice(g * cog, (g + 1) * cog),)] += \
                    patch[:, g * cg:(g + 1) * cg] @ w[off][:, g * cog:(g + 1) * cog]
    return out


def same_pads(spatial, k, s, d):
    pads = []
    for n, kk, ss, dd in zip(spatial, k, s, d):
        out = -(-n // ss)
        total = max((out - 1) * ss + (kk - 1) * dd + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


@pytest.mark.parametrize("xs,ws,strides,padding,dilation", [
    ((2, 7, 3), (3, 3, 4), 1, "valid", 1),
    ((2, 7, 3), (3, 3, 4), 2, "same", 1),
    ((1, 8, 2), (2, 2, 3), 1, "same", 3),
    ((2, 5, 6, 3), (3, 2, 3, 4), (2, 1), "same", 1),
    ((2, 5, 6, 4), (3, 3, 2, 6), 1, "valid", (1, 2)),   # groups = 2
    ((1, 6, 6, 4), (3, 3, 1, 4), 2, "same", 1),         # depthwise (groups = 4)
    ((1, 4, 5, 4, 2), (2, 2, 2, 2, 3), 1, "valid", 1),  # 3-D
])
def test_conv_matches_direct_loops(xs, ws, strides, padding, dilation):
    x, w = r(*xs), r(*ws)
    n = len(xs) - 2
    st = (strides,) * n if isinstance(strides, int) else strides
    dl = (dilation,) * n if isinstance(dilation, int) else dilation
    pads = same_pads(xs[1:-1], ws[:n], st, dl) if padding == "same" else [(0, 0)] * n
    groups = xs[-1] // ws[-2]
    out = ops.conv(x, w, strides=strides, padding=padding, dilation_rate=dilation)
    expected = conv_reference(x, w, st, pads, dl, groups)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv_channels_first_and_float32():
    x, w = r(2, 3, 6, 5).astype(np.float32), r(3, 3, 3, 4).astype(np.float32)
    out = ops.conv(x, w, padding="same", data_format="channels_first")
    assert out.dtype == "float32" and out.shape == (2, 4, 6, 5)
    ref = ops.conv(np.moveaxis(x, 1, -1), w, padding="same").numpy()
    np.testing.assert_allclose(out.numpy(), np.moveaxis(ref, -1, 1), rtol=1e-6)


def test_conv_errors():
    with pytest.raises(ShapeError, match="conv: inputs with 5 channels .* kernel of shape"):
        ops.conv(r(1, 6, 5), r(3, 2, 4))
    with pytest.raises(ShapeError, match="must have rank 4"):
        ops.conv(r(1, 6, 6, 2), r(3, 2, 4))
    with pytest.raises(ValueError, match="`padding` must be 'valid' or 'same'"):
        ops.conv(r(1, 6, 2), r(3, 2, 4), padding="full")


def test_depthwise_conv_matches_reference():
    x, w = r(1, 5, 5, 2), r(3, 3, 2, 3)
    out = ops.depthwise_conv(x, w, padding="same")
    expected = conv_reference(x, w.reshape(3, 3, 1, 6), (1, 1), [(1, 1), (1, 1)], (1, 1), 2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("xs,k,strides,padding,out_pad", [
    ((1, 4, 2), 3, 2, "valid", None), ((1, 4, 2), 3, 2, "same", None),
    ((2, 3, 3, 2), 2, 3, "valid", None), ((1, 3, 4, 2), 3, 2, "same", None),
    ((1, 4, 2), 3, 2, "same", 1),
])
def test_conv_transpose_is_the_adjoint_of_conv(xs, k, strides, padding, out_pad):
    """<conv_transpose(y, w), x> = <y, conv(x, w)> with the output length Keras gives."""
    n = len(xs) - 2
    y = r(*xs)
    w = r(*((k,) * n), 3, xs[-1])  # (*k, filters, in_channels)
    out = ops.conv_transpose(y, w, strides=strides, padding=padding, output_padding=out_pad)
    s = strides
    for i in range(n):
        size = xs[1 + i]
        if out_pad is None:
            length = size * s if padding == "same" else size * s + max(k - s, 0)
        else:
            length = (size - 1) * s + k - 2 * (k // 2 if padding == "same" else 0) + out_pad
        assert out.shape[1 + i] == length
    x = r(*out.shape)
    forward = ops.conv(x, w, strides=strides, padding=padding).numpy()
    np.testing.assert_allclose(np.sum(out.numpy() * x), np.sum(y * forward), rtol=1e-10)


def pool_reference(x, window, strides, pads, kind):
    n = x.ndim - 2
    fill = -np.inf if kind == "max" else np.nan
    xp = np.pad(x, [(0, 0)] + list(pads) + [(0, 0)], constant_values=fill)
    out_sp = [(xp.shape[1 + i] - window[i]) // strides[i] + 1 for i in range(n)]
    out = np.zeros((x.shape[0], *out_sp, x.shape[-1]))
    for pos in itertools.product(*(range(o) for o in out_sp)):
        region = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, strides, window))
        patch = xp[(slice(None),) + region]
        axes = tuple(range(1, 1 + n))
        out[(slice(None),) + pos] = patch.max(axis=axes) if kind == "max" else \
            np.nanmean(patch, axis=axes)
    return out


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("xs,pool,strides,padding", [
    ((2, 7, 3), 2, None, "valid"), ((2, 7, 3), 3, 2, "same"),
    ((2, 5, 6, 3), (2, 3), (1, 2), "valid"), ((1, 5, 5, 2), 3, 2, "same"),
    ((1, 4, 4, 2), 2, None, "same"),
])
def test_pooling_matches_direct_loops(kind, xs, pool, strides, padding):
    x = r(*xs)
    n = len(xs) - 2
    window = (pool,) * n if isinstance(pool, int) else pool
    st = window if strides is None else ((strides,) * n if isinstance(strides, int) else strides)
    pads = same_pads(xs[1:-1], window, st, (1,) * n) if padding == "same" else [(0, 0)] * n
    fn = ops.max_pool if kind == "max" else ops.average_pool
    out = fn(x, pool, strides=strides, padding=padding)
    np.testing.assert_allclose(out.numpy(), pool_reference(x, window, st, pads, kind),
                               rtol=1e-12)


def test_pooling_dtypes_and_channels_first():
    x = r(1, 2, 4, 4).astype(np.float32)
    out = ops.max_pool(x, 2, data_format="channels_first")
    assert out.shape == (1, 2, 2, 2) and out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), np.moveaxis(
        ops.max_pool(np.moveaxis(x, 1, -1), 2).numpy(), -1, 1))
    ints = ops.max_pool(np.arange(8, dtype=np.int32).reshape(1, 8, 1), 2, padding="same")
    assert ints.dtype == "int32"
    assert ops.average_pool(np.ones((1, 4, 1), np.int32), 2).dtype == "float32"


def test_conv_and_pool_infer_with_unknown_dims():
    f = "float32"
    out = nn.CONV.infer(Aval((None, None, 8, 3), f), Aval((3, 3, 3, 5), f), strides=(1, 2),
                        padding="same", dilation=(1, 1), groups=1)
    assert out == Aval((None, None, 4, 5), f)
    out = nn.CONV.infer(Aval((None, 10, 3), f), Aval((3, 3, 4), f), strides=(2,),
                        padding=((0, 0),), dilation=(1,), groups=1)
    assert out == Aval((None, 4, 4), f)
    out = nn.MAX_POOL.infer(Aval((None, 9, None, 2), f), window=(2, 2), strides=(2, 2),
                            padding=((0, 0), (0, 0)))
    assert out == Aval((None, 4, None, 2), f)
    with pytest.raises(ShapeError, match="conv: inputs of shape .* have 4 channels"):
        nn.CONV.infer(Aval((None, 10, 4), f), Aval((3, 3, 4), f), strides=(1,),
                      padding=((0, 0),), dilation=(1,), groups=1)


def test_symbolic_same_padding_is_resolved_by_the_kernel():
    x, w = r(1, 5, 2), r(3, 2, 4)
    symbolic = nn.CONV.eager(x, w, strides=(2,), padding="same", dilation=(1,), groups=1)
    np.testing.assert_allclose(symbolic, ops.conv(x, w, strides=2, padding="same").numpy())


def test_dropout_delegates_to_random():
    pytest.importorskip("graphkit.random")
    x = np.ones((200,), np.float32)
    out = ops.dropout(x, 0.5, seed=1).numpy()
    kept = out != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(out[kept], 2.0)


def test_crossentropies_reproduce_keras_documented_values():
    probs = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    np.testing.assert_allclose(
        ops.sparse_categorical_crossentropy(np.array([1, 2]), probs).numpy(),
        [0.05129339, 2.30258509], rtol=1e-5)
    np.testing.assert_allclose(
        ops.categorical_crossentropy(np.array([[0.0, 1, 0], [0, 0, 1]]), probs).numpy(),
        [0.05129339, 2.30258509], rtol=1e-5)
    bce = ops.binary_crossentropy(np.array([[0.0, 1.0], [0.0, 0.0]]),
                                  np.array([[0.6, 0.4], [0.4, 0.6]]))
    np.testing.assert_allclose(float(ops.mean(bce)), 0.815, atol=5e-4)


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
def test_one_hot_of_narrow_int_labels_with_more_classes_than_the_dtype_holds(dtype):
    labels = np.array([1, 100, 4], dtype)
    np.testing.assert_array_equal(ops.one_hot(labels, 300).numpy(),
                                  np.eye(300, dtype="float32")[labels.astype(np.int64)])
