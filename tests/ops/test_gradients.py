"""Every differentiable primitive's gradient rule against central finite differences.

The case table must cover every primitive in PRIMITIVES that has a grad rule: adding a
differentiable primitive without a case here fails `test_every_differentiable_primitive_has_a_case`.
Each case also checks that the tape really recorded the primitive, and every recorded call's
eager output matches its infer rule (shape and dtype).
"""
import numpy as np
import pytest

import graphkit as gk
import graphkit.ops  # noqa: F401  (registers every primitive)
from graphkit import ops
from graphkit.ops import layout, nn
from graphkit.ops.primitive import PRIMITIVES, bind, infer_avals

RNG = np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _stand_ins_for_every_array(monkeypatch):
    """The tape gives rules stand-ins (shape and dtype only) for the operands their
    `grad_uses` leave out, from a size up; here from any size, so that every rule is checked
    against them."""
    from graphkit.core import tape
    monkeypatch.setattr(tape, "STAND_IN_MIN_BYTES", 0)


def rand(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape)


def away_from(values, *shape, gap=0.1, lo=-1.0, hi=1.0):
    """Random values at least `gap` from each of `values` (kinks of max, abs, relu...)."""
    x = rand(*shape, lo=lo, hi=hi)
    for v in values:
        near = np.abs(x - v) < gap
        x[near] = v + np.where(x[near] >= v, gap, -gap) * 1.5
    return x


def distinct(*shape):
    """Values with no ties, for max/min/argmax-like ops."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) / n * 2 - 1 + RNG.uniform(0, 0.1 / n, n)).reshape(shape)


class Case:
    def __init__(self, fn, *inputs, h=1e-6, rtol=1e-6, atol=1e-8):
        self.fn, self.inputs, self.h, self.rtol, self.atol = fn, inputs, h, rtol, atol


IDX = np.array([[2, 0], [1, 2], [0, 0]], dtype=np.int32)
ALONG = np.array([[1, 0, 2, 2], [0, 0, 1, 2]], dtype=np.int32)

_conv_attrs = dict(strides=(2, 1), padding=((1, 1), (0, 1)), dilation=(1, 1), groups=2)
_conv_attrs_dil = dict(strides=(1,), padding=((2, 1),), dilation=(2,), groups=1)
_pool_attrs = dict(window=(2, 3), strides=(2, 2), padding=((0, 1), (1, 1)))

# primitive name -> list of cases; each case differentiates fn with respect to all inputs.
CASES = {
    "cast": [Case(lambda x: ops.cast(ops.cast(x, "float32"), "float64") * 3.0, rand(3, 2),
                  h=1e-2, rtol=1e-4, atol=1e-5)],
    "add": [Case(ops.add, rand(2, 3), rand(3)), Case(ops.add, rand(2, 1), rand(1, 4))],
    "subtract": [Case(ops.subtract, rand(2, 3), rand(2, 1))],
    "multiply": [Case(ops.multiply, rand(2, 3), rand(3))],
    "divide": [Case(ops.divide, rand(2, 3), rand(3, lo=0.5, hi=2.0))],
    "power": [Case(ops.power, rand(2, 3, lo=0.5, hi=2.0), rand(3)),
              Case(lambda x: ops.power(x, 3.0), rand(4))],
    "maximum": [Case(ops.maximum, rand(3, 4), rand(4))],
    "minimum": [Case(ops.minimum, rand(3, 4), rand(3, 1))],
    "mod": [Case(ops.mod, rand(5, lo=0.1, hi=5.0), np.full(5, 1.7) + rand(5, lo=0, hi=0.2))],
    "negative": [Case(ops.negative, rand(3))],
    "exp": [Case(ops.exp, rand(2, 3))],
    "expm1": [Case(ops.expm1, rand(2, 3))],
    "log": [Case(ops.log, rand(2, 3, lo=0.2, hi=3.0))],
    "log1p": [Case(ops.log1p, rand(2, 3, lo=-0.5, hi=3.0))],
    "sqrt": [Case(ops.sqrt, rand(2, 3, lo=0.2, hi=3.0))],
    "tanh": [Case(ops.tanh, rand(2, 3, lo=-2, hi=2))],
    "sin": [Case(ops.sin, rand(4, lo=-3, hi=3))],
    "cos": [Case(ops.cos, rand(4, lo=-3, hi=3))],
    "abs": [Case(ops.abs, away_from([0.0], 2, 3))],
    "sigmoid": [Case(ops.sigmoid, rand(2, 3, lo=-4, hi=4))],
    "erf": [Case(ops.erf, rand(2, 3, lo=-2, hi=2))],
    "where": [Case(lambda a, b: ops.where(np.array([True, False, True]), a, b),
                   rand(2, 3), rand(2, 1))],
    "sum": [Case(lambda x: ops.sum(x, axis=1), rand(2, 3, 4)),
            Case(lambda x: ops.sum(x, axis=(0, 2), keepdims=True), rand(2, 3, 4))],
    "max": [Case(lambda x: ops.max(x, axis=-1), distinct(3, 4)),
            Case(lambda x: ops.max(x), distinct(2, 3))],
    "min": [Case(lambda x: ops.min(x, axis=0, keepdims=True), distinct(3, 4))],
    "prod": [Case(lambda x: ops.prod(x, axis=1), rand(3, 4, lo=0.5, hi=1.5)),
             Case(lambda x: ops.prod(x * np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]), axis=1),
                  rand(2, 3, lo=0.5, hi=1.5))],
    "reshape": [Case(lambda x: ops.reshape(x, (3, -1)), rand(2, 3, 2))],
    "transpose": [Case(lambda x: ops.transpose(x, (2, 0, 1)), rand(2, 3, 4))],
    "broadcast_to": [Case(lambda x: ops.broadcast_to(x, (2, 3, 4)), rand(3, 1))],
    "slice": [Case(lambda x: x[1:, ::-2], rand(3, 5)),
              Case(lambda x: x[::2, 1:4:2], rand(5, 6))],
    "pad": [Case(lambda x: ops.pad(x, ((1, 2), (0, 1))), rand(2, 3)),
            Case(lambda x: layout._pad(x, ((1, 0, 2), (0, 1, 1)), 0.5), rand(3, 2))],
    "concatenate": [Case(lambda a, b: ops.concatenate([a, b, a], axis=1), rand(2, 3), rand(2, 1))],
    "take": [Case(lambda x: ops.take(x, IDX, axis=1), rand(2, 3, 2))],
    "scatter_add": [Case(lambda x, u: ops.scatter_add(x, IDX, u, axis=0), rand(3, 2),
                         rand(3, 2, 2))],
    "take_along_axis": [Case(lambda x: ops.take_along_axis(x, ALONG, axis=1), rand(2, 3))],
    "scatter_add_along_axis": [Case(
        lambda x, u: bind(layout.SCATTER_ADD_ALONG_AXIS, x, ops.convert_to_tensor(ALONG), u,
                          axis=1), rand(2, 3), rand(2, 4))],
    "matmul": [Case(ops.matmul, rand(2, 1, 3, 4), rand(3, 4, 2)),
               Case(ops.matmul, rand(4), rand(4, 3))],
    "conv": [Case(lambda x, w: bind(nn.CONV, x, w, **_conv_attrs), rand(2, 5, 4, 4),
                  rand(3, 2, 2, 6)),
             Case(lambda x, w: ops.conv(x, w, padding="same", dilation_rate=2),
                  rand(1, 7, 2), rand(3, 2, 3))],
    "conv_input_grad": [Case(
        lambda ct, w: bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=(5, 4), **_conv_attrs),
        rand(2, 3, 4, 6), rand(3, 2, 2, 6)),
        Case(lambda ct, w: bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=(6,),
                                **_conv_attrs_dil), rand(1, 7, 3), rand(2, 2, 3))],
    "conv_filter_grad": [Case(
        lambda x, ct: bind(nn.CONV_FILTER_GRAD, x, ct, kernel_spatial=(3, 2), **_conv_attrs),
        rand(2, 5, 4, 4), rand(2, 3, 4, 6))],
    "max_pool": [Case(lambda x: bind(nn.MAX_POOL, x, **_pool_attrs), distinct(2, 4, 5, 2)),
                 Case(lambda x: ops.max_pool(x, 2, padding="same"), distinct(1, 5, 3))],
    "max_pool_grad": [Case(lambda x, ct: bind(nn.MAX_POOL_GRAD, x, ct, **_pool_attrs),
                           distinct(2, 4, 5, 2), rand(2, 2, 3, 2))],
    "max_pool_select": [Case(lambda x, g: bind(nn.MAX_POOL_SELECT, x, g, **_pool_attrs),
                             distinct(2, 4, 5, 2), rand(2, 4, 5, 2))],
    "avg_pool": [Case(lambda x: bind(nn.AVG_POOL, x, **_pool_attrs), rand(2, 4, 5, 2)),
                 Case(lambda x: ops.average_pool(x, 3, strides=2, padding="same"),
                      rand(1, 5, 2))],
    "avg_pool_grad": [Case(lambda ct: bind(nn.AVG_POOL_GRAD, ct, input_spatial=(4, 5),
                                           **_pool_attrs), rand(2, 2, 3, 2))],
}

# Composites: no rule of their own, checked end to end.
COMPOSITES = {
    "softmax": Case(lambda x: ops.softmax(x, axis=-1), rand(3, 4, lo=-3, hi=3)),
    "softmax_axis0": Case(lambda x: ops.softmax(x, axis=0), rand(3, 4)),
    "log_softmax": Case(lambda x: ops.log_softmax(x), rand(3, 4, lo=-3, hi=3)),
    "logsumexp": Case(lambda x: ops.logsumexp(x, axis=1), rand(3, 4, lo=-3, hi=3)),
    "gelu_exact": Case(lambda x: ops.gelu(x, approximate=False), rand(3, 4, lo=-3, hi=3)),
    "gelu_tanh": Case(lambda x: ops.gelu(x, approximate=True), rand(3, 4, lo=-3, hi=3)),
    "silu": Case(ops.silu, rand(5, lo=-3, hi=3)),
    "softplus": Case(ops.softplus, np.array([-50.0, -3.0, 0.0, 0.4, 3.0, 39.0, 45.0])),
    "elu": Case(ops.elu, away_from([0.0], 6, lo=-3, hi=3)),
    "selu": Case(ops.selu, away_from([0.0], 6, lo=-3, hi=3)),
    "leaky_relu": Case(ops.leaky_relu, away_from([0.0], 6)),
    "relu6": Case(ops.relu6, away_from([0.0, 6.0], 8, lo=-2, hi=8)),
    "mean": Case(lambda x: ops.mean(x, axis=(0, 2)), rand(2, 3, 4)),
    "var": Case(lambda x: ops.var(x, axis=1, keepdims=True), rand(3, 4)),
    "std": Case(lambda x: ops.std(x, axis=0), rand(4, 3)),
    "moments_layer_norm": Case(
        lambda x: (x - ops.moments(x, axes=[-1], keepdims=True)[0])
        * ops.rsqrt(ops.moments(x, axes=[-1], keepdims=True)[1] + 1e-3), rand(3, 5)),
    "batch_normalization": Case(
        lambda x, m, v, b, s: ops.batch_normalization(x, m, v, axis=1, offset=b, scale=s),
        rand(4, 3), rand(3), rand(3, lo=0.5, hi=1.5), rand(3), rand(3)),
    "binary_crossentropy": Case(lambda y, p: ops.binary_crossentropy(y, p),
                                rand(3, 2, lo=0, hi=1), rand(3, 2, lo=0.05, hi=0.95)),
    "binary_crossentropy_logits": Case(
        lambda y, p: ops.binary_crossentropy(y, p, from_logits=True),
        rand(3, 2, lo=0, hi=1), rand(3, 2, lo=-3, hi=3)),
    "categorical_crossentropy": Case(
        lambda y, p: ops.categorical_crossentropy(y, p), rand(3, 4, lo=0, hi=1),
        rand(3, 4, lo=0.1, hi=1.0)),
    "categorical_crossentropy_logits": Case(
        lambda y, p: ops.categorical_crossentropy(y, p, from_logits=True),
        rand(3, 4, lo=0, hi=1), rand(3, 4, lo=-3, hi=3)),
    "sparse_categorical_crossentropy_logits": Case(
        lambda p: ops.sparse_categorical_crossentropy(np.array([1, 0, 3]), p, from_logits=True),
        rand(3, 4, lo=-3, hi=3)),
    "sparse_categorical_crossentropy": Case(
        lambda p: ops.sparse_categorical_crossentropy(np.array([[1], [0], [3]]), p),
        rand(3, 4, lo=0.1, hi=1.0)),
    "einsum_attention": Case(lambda q, k: ops.einsum("abnh,acnh->anbc", q, k),
                             rand(2, 3, 2, 4), rand(2, 5, 2, 4)),
    "einsum_dense": Case(lambda x, w: ops.einsum("...b,bc->...c", x, w), rand(2, 3, 4),
                         rand(4, 5)),
    "tensordot": Case(lambda a, b: ops.tensordot(a, b, axes=([1, 2], [0, 2])), rand(2, 3, 4),
                      rand(3, 5, 4)),
    "getitem_mixed": Case(lambda x: x[None, ::-1, 1, [0, 2, 2]], rand(3, 4, 3)),
    "clip": Case(lambda x: ops.clip(x, -0.5, 0.5), away_from([-0.5, 0.5], 8)),
    "norm": Case(lambda x: ops.norm(x, axis=-1), rand(3, 4)),
    "cumsum": Case(lambda x: ops.cumsum(x, axis=0), rand(4, 2)),
    "conv_transpose": Case(lambda x, w: ops.conv_transpose(x, w, strides=2, padding="same"),
                           rand(1, 3, 3, 2), rand(3, 3, 4, 2)),
    "depthwise_conv": Case(lambda x, w: ops.depthwise_conv(x, w, padding="same"),
                           rand(1, 4, 4, 2), rand(3, 3, 2, 2)),
    "stack_split_tile": Case(lambda a: ops.tile(ops.stack(ops.split(a, 2, axis=1), axis=0),
                                                (1, 2, 1)), rand(3, 4)),
    "pad_reflect": Case(lambda x: ops.pad(x, ((2, 1), (1, 2)), mode="reflect"), rand(3, 4)),
    "one_hot_dot": Case(lambda x: ops.sum(ops.one_hot(np.array([0, 2]), 3, dtype="float64")
                                          * x), rand(2, 3)),
    # -- the NumPy/Keras composites of test_ops_more (inputs away from their kinks) --------
    "celu": Case(lambda x: ops.celu(x, alpha=1.5), away_from([0.0], 3, 4, lo=-3, hi=3)),
    "glu": Case(lambda x: ops.glu(x, axis=0), rand(4, 3, lo=-3, hi=3)),
    "hard_tanh": Case(ops.hard_tanh, away_from([-1.0, 1.0], 3, 4, lo=-2, hi=2)),
    "hard_shrink": Case(ops.hard_shrink, away_from([-0.5, 0.5], 3, 4, lo=-2, hi=2)),
    "soft_shrink": Case(ops.soft_shrink, away_from([-0.5, 0.5], 3, 4, lo=-2, hi=2)),
    "tanh_shrink": Case(ops.tanh_shrink, rand(3, 4, lo=-3, hi=3)),
    "squareplus": Case(ops.squareplus, rand(3, 4, lo=-3, hi=3)),
    "sparse_plus": Case(ops.sparse_plus, away_from([-1.0, 1.0], 3, 4, lo=-2, hi=2)),
    "sparse_sigmoid": Case(ops.sparse_sigmoid, away_from([-1.0, 1.0], 3, 4, lo=-2, hi=2)),
    "threshold": Case(lambda x: ops.threshold(x, 0.2, -1.0), away_from([0.2], 3, 4)),
    "sparsemax": Case(lambda x: ops.sparsemax(x, axis=0),
                      np.array([[0.9, -0.3, 0.1], [0.5, 0.2, 0.15], [-1.0, 0.6, 0.05]])),
    "rms_normalization": Case(lambda x, s: ops.rms_normalization(x, scale=s), rand(3, 4),
                              rand(4)),
    "layer_normalization": Case(lambda x, g, b: ops.layer_normalization(x, g, b, axis=0),
                                rand(3, 4), rand(3), rand(3)),
    "dot_product_attention": Case(
        lambda q, k, v, b: ops.dot_product_attention(
            q, k, v, bias=b, mask=np.arange(5)[None, None, None, :] < 4, is_causal=True),
        rand(2, 3, 4, 2), rand(2, 5, 2, 2), rand(2, 5, 2, 3), rand(1, 4, 3, 5)),
    "deg2rad_rad2deg": Case(lambda x: ops.rad2deg(ops.deg2rad(x) * x), rand(3, 4)),
    "exp2": Case(ops.exp2, rand(3, 4, lo=-3, hi=3)),
    "logaddexp2": Case(ops.logaddexp2, rand(3, 4, lo=-3, hi=3), rand(4, lo=-3, hi=3)),
    # Equal operands: each gets half the gradient (a smooth point, finite differences agree).
    "logaddexp2_tie": Case(ops.logaddexp2, np.array([0.3, -1.0]), np.array([0.3, -1.0])),
    "heaviside": Case(lambda b: ops.heaviside(np.array([[-1.0, 0.0, 2.0]]), b) * b,
                      rand(2, 3)),
    "hypot": Case(ops.hypot, rand(3, 4), rand(3, 4)),
    "hypot_tie": Case(ops.hypot, np.array([0.5, -2.0, 1.5]), np.array([0.5, 2.0, 0.0])),
    "fmax_fmin": Case(lambda a, b: ops.fmax(a, b) * ops.fmin(a, b), distinct(3, 4),
                      distinct(3, 4) + 0.01),
    "fabs": Case(ops.fabs, away_from([0.0], 3, 4)),
    "cbrt": Case(ops.cbrt, away_from([0.0], 3, 4, lo=-8, hi=8)),
    "sinc": Case(ops.sinc, np.append(rand(5, lo=-3, hi=3), 0.0)),
    "diff_flips_rot90": Case(lambda x: ops.rot90(ops.fliplr(ops.flipud(ops.diff(x, n=2))),
                                                 k=3), rand(3, 5)),
    "stacks_and_splits": Case(lambda a, b: ops.concatenate([
        ops.ravel(ops.dstack(ops.array_split(a, 3, axis=1)[:2] + ops.hsplit(b, 2))),
        ops.ravel(ops.vsplit(b, [1])[1]), ops.ravel(ops.dsplit(ops.reshape(b, (2, 2, 2)),
                                                               2)[1])]),
        rand(2, 5), rand(2, 4)),
    "kron": Case(ops.kron, rand(2, 3), rand(3, 2)),
    "meshgrid": Case(lambda a, b: ops.meshgrid(a, b)[0] * ops.meshgrid(a, b)[1], rand(3),
                     rand(4)),
    "trapezoid": Case(lambda y, x: ops.trapezoid(y, x=x, axis=0), rand(4, 3),
                      np.array([0.0, 0.5, 1.7, 2.0])),
    "ptp_copy": Case(lambda x: ops.ptp(ops.copy(x), axis=1), distinct(3, 4)),
    "cumprod": Case(lambda x: ops.cumprod(x, axis=1),
                    np.array([[0.5, 1.5, -2.0, 0.0, 3.0], [1.2, 0.7, 0.9, -1.1, 0.4]])),
    "median": Case(lambda x: ops.median(x, axis=0), distinct(4, 3)),
    "quantile": Case(lambda x: ops.quantile(x, [0.3, 0.8], axis=1), distinct(3, 5)),
    "percentile": Case(lambda x: ops.percentile(x, 37.0), distinct(3, 5)),
    "nan_reductions": Case(lambda x: ops.stack([
        ops.nansum(x, axis=0), ops.nanmean(x, axis=0), ops.nanmax(x, axis=0),
        ops.nanmin(x, axis=0)]), np.where(np.eye(3, 4) > 0, np.nan, distinct(3, 4))),
}


# -- the checks --------------------------------------------------------------------------

def _run(case):
    xs = [gk.ops.convert_to_tensor(np.asarray(a, dtype=np.float64)) for a in case.inputs]
    with gk.GradientTape(persistent=True) as tape:
        tape.watch(xs)
        y = case.fn(*xs)
    return xs, y, tape


def _numeric_grad(case, ct):
    grads = []
    for i, a in enumerate(case.inputs):
        a = np.asarray(a, dtype=np.float64)
        g = np.zeros_like(a)
        for j in range(a.size):
            args_p = [np.asarray(v, dtype=np.float64).copy() for v in case.inputs]
            args_m = [v.copy() for v in args_p]
            args_p[i].flat[j] += case.h
            args_m[i].flat[j] -= case.h
            fp = np.asarray(case.fn(*[gk.ops.convert_to_tensor(v) for v in args_p]))
            fm = np.asarray(case.fn(*[gk.ops.convert_to_tensor(v) for v in args_m]))
            g.flat[j] = np.sum((fp - fm) * ct) / (2 * case.h)
        grads.append(g)
    return grads


def _check(case):
    xs, y, tape = _run(case)
    assert y.dtype == "float64", f"the op changed float64 to {y.dtype}"
    ct = RNG.uniform(-1, 1, y.shape)
    grads = tape.gradient(y, xs, output_gradients=gk.ops.convert_to_tensor(ct))
    numeric = _numeric_grad(case, ct)
    for i, (g, n) in enumerate(zip(grads, numeric)):
        g = np.zeros_like(n) if g is None else np.asarray(g)
        assert g.shape == n.shape, f"input {i}: gradient shape {g.shape} != {n.shape}"
        np.testing.assert_allclose(g, n, rtol=case.rtol, atol=case.atol,
                                   err_msg=f"gradient of input {i}")
    return tape


def _is_static(value):
    """Attrs print and parse as text: Python scalars, strings, None and tuples of them."""
    if isinstance(value, tuple):
        return all(_is_static(v) for v in value)
    return value is None or type(value) in (int, float, str, bool)


def _case_ids():
    return [(name, i) for name, cases in CASES.items() for i in range(len(cases))]


def test_every_differentiable_primitive_has_a_case():
    missing = sorted(name for name, p in PRIMITIVES.items()
                     if p.grad is not None and name not in CASES)
    assert not missing, f"differentiable primitives without a gradient case: {missing}"


@pytest.mark.parametrize("name,index", _case_ids(), ids=[f"{n}-{i}" for n, i in _case_ids()])
def test_primitive_gradient_matches_finite_differences(name, index):
    case = CASES[name][index]
    tape = _check(case)
    recorded = {r[0].name for r in tape._records}
    assert name in recorded, f"the case for '{name}' did not run it (ran {sorted(recorded)})"


@pytest.mark.parametrize("name,index", _case_ids(), ids=[f"{n}-{i}" for n, i in _case_ids()])
def test_eager_output_matches_infer_rule(name, index):
    _, _, tape = _run(CASES[name][index])
    for prim, inputs, outputs, attrs, _, _ in tape._records:
        assert set(attrs) == set(prim.attr_names), \
            f"{prim.name}: attrs {sorted(attrs)} vs declared attr_names {prim.attr_names}"
        for key, value in attrs.items():
            assert _is_static(value), f"{prim.name}: attr {key}={value!r} is not static"
        hash(tuple(attrs.items()))
        avals = infer_avals(prim, inputs, attrs)
        outs = outputs if prim.n_outputs > 1 else (outputs,)
        for aval, out in zip(avals, outs):
            assert (tuple(out.shape), out.dtype) == (aval.shape, aval.dtype), \
                f"{prim.name}{attrs}: eager {out.shape} {out.dtype} vs infer {aval}"


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_gradient_matches_finite_differences(name):
    _check(COMPOSITES[name])


def test_relu_gradient_at_zero_is_zero():
    x = gk.ops.convert_to_tensor(np.array([-1.0, 0.0, 2.0]))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.relu(x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 0.0, 1.0])


def test_softplus_gradient_at_zero_is_one_half():
    x = gk.ops.convert_to_tensor(np.zeros(2))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.softplus(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.5, 0.5])


def test_prod_gradient_with_zeros():
    x = gk.ops.convert_to_tensor(np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 4.0]]))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.prod(x, axis=1)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                               [[0, 6, 0], [0, 0, 0], [8, 4, 2]])


def test_max_gradient_splits_ties():
    x = gk.ops.convert_to_tensor(np.array([1.0, 3.0, 3.0]))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.max(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.0, 0.5, 0.5])


def test_elu_gradient_is_finite_for_large_inputs():
    x = gk.ops.convert_to_tensor(np.array([1000.0, -1000.0]))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.elu(x)
    g = tape.gradient(y, x).numpy()
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [1.0, 0.0])


def test_second_order_through_conv():
    """d/dw of a function of the conv's input gradient: exercises conv_filter_grad's rule."""
    x = gk.ops.convert_to_tensor(rand(1, 5, 2))
    w = gk.ops.convert_to_tensor(rand(3, 2, 3))
    with gk.GradientTape() as outer:
        outer.watch(w)
        with gk.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.square(ops.conv(x, w)))
        gx = inner.gradient(y, x)
        z = ops.sum(gx * gx)
    gw = outer.gradient(z, w).numpy()

    def z_of(wv):
        with gk.GradientTape() as t:
            xx = gk.ops.convert_to_tensor(x.numpy())
            t.watch(xx)
            yy = ops.sum(ops.square(ops.conv(xx, wv)))
        g = t.gradient(yy, xx).numpy()
        return np.sum(g * g)

    h, num = 1e-6, np.zeros_like(gw)
    for j in range(gw.size):
        wp, wm = w.numpy().copy(), w.numpy().copy()
        wp.flat[j] += h
        wm.flat[j] -= h
        num.flat[j] = (z_of(wp) - z_of(wm)) / (2 * h)
    np.testing.assert_allclose(gw, num, rtol=1e-5, atol=1e-7)
