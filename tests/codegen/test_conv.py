"""Native conv kernels (graphkit/codegen/conv.py) against the eager NumPy kernels in float64.

Every graph is compiled with fallback off, so a conv that is not native fails the test.
"""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops
from graphkit.codegen.backend import LLVMExecutable
from graphkit.ops import nn
from graphkit.ops.primitive import bind

RNG = np.random.default_rng(7)
RTOL = 1e-5


pytestmark = pytest.mark.usefixtures("no_fallback")


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def compiled(fn, *args):
    """Outputs of gk.jit(fn) on the llvm backend; asserts every kernel is native."""
    jitted = gk.jit(fn, backend="llvm")
    out = jitted(*args)
    exe = next(iter(jitted._cache.values())).executable
    assert isinstance(exe, LLVMExecutable)
    assert exe.stats()["interpreted_kernels"] == []
    return [np.asarray(o) for o in gk.tree.flatten(out)]


def f64(*arrays):
    return [a.astype(np.float64) for a in arrays]


def assert_close(got, want):
    """float32 result vs a float64 reference: error relative to the output's scale."""
    scale = np.max(np.abs(want)) + 1e-30
    err = np.max(np.abs(got - want)) / scale
    assert err <= RTOL, f"relative error {err:.2e}"


def pads(spatial, window, strides, dilation, padding):
    return nn.resolve_padding(padding, spatial, window, strides, dilation, "test")


# (x shape, kernel shape, strides, padding, dilation)
FORWARD = {
    "2d_valid": ((2, 9, 10, 3), (3, 3, 3, 5), (1, 1), "valid", (1, 1)),
    "2d_same_stride2": ((2, 9, 10, 3), (3, 3, 3, 5), (2, 2), "same", (1, 1)),
    "2d_dilated_same": ((2, 11, 9, 4), (3, 3, 4, 6), (1, 1), "same", (2, 2)),
    "2d_rect_stride": ((1, 12, 7, 2), (2, 4, 2, 3), (3, 1), "same", (1, 1)),
    "1d_same_stride2": ((3, 17, 5), (4, 5, 7), (2,), "same", (1,)),
    "1d_dilated": ((2, 20, 3), (3, 3, 4), (1,), "valid", (3,)),
    "3d_same": ((2, 5, 6, 4, 3), (3, 2, 3, 3, 4), (1, 2, 1), "same", (1, 1, 1)),
    "pointwise": ((2, 6, 7, 9), (1, 1, 9, 33), (1, 1), "valid", (1, 1)),
    "pointwise_stride2": ((2, 6, 7, 9), (1, 1, 9, 4), (2, 2), "valid", (1, 1)),
    # several row chunks per thread and a remainder chunk
    "chunks": ((3, 22, 21, 16), (3, 3, 16, 40), (1, 1), "valid", (1, 1)),
    # big enough for Winograd F(2x2, 3x3); odd sizes, border tiles, channel tails
    "winograd_valid": ((4, 34, 34, 8), (3, 3, 8, 32), (1, 1), "valid", (1, 1)),
    "winograd_same_tails": ((5, 30, 31, 9), (3, 3, 9, 17), (1, 1), "same", (1, 1)),
}


@pytest.mark.parametrize("case", list(FORWARD))
def test_conv_bias_relu_matches_eager(case):
    xs, ws, strides, padding, dilation = FORWARD[case]
    x, w, bias = f32(*xs), f32(*ws), f32(ws[-1])
    pad = pads(xs[1:-1], ws[:-2], strides, dilation, padding)

    def fn(x, w, bias):
        y = bind(nn.CONV, x, w, strides=strides, padding=pad, dilation=dilation, groups=1)
        return ops.relu(y + bias)
    got, = compiled(fn, x, w, bias)
    xd, wd, bd = f64(x, w, bias)
    want = np.maximum(nn._conv_kernel(xd, wd, strides, pad, dilation, 1) + bd, 0)
    assert_close(got, want)


@pytest.mark.parametrize("n,side,cin", [(2, 8, 4), (4, 35, 16)])  # direct, Winograd
def test_conv_with_residual_epilogue(n, side, cin):
    x, w, res = f32(n, side, side, cin), f32(3, 3, cin, 24), f32(n, side - 2, side - 2, 24)
    pad = ((0, 0), (0, 0))

    def fn(x, w, res):
        y = bind(nn.CONV, x, w, strides=(1, 1), padding=pad, dilation=(1, 1), groups=1)
        return ops.tanh(y) + res
    got, = compiled(fn, x, w, res)
    xd, wd, rd = f64(x, w, res)
    assert_close(got, np.tanh(nn._conv_kernel(xd, wd, (1, 1), pad, (1, 1), 1)) + rd)


def test_conv_product_and_epilogue_both_leave_the_kernel():
    x, w = f32(2, 8, 8, 4), f32(3, 3, 4, 8)
    pad = ((0, 0), (0, 0))

    def fn(x, w):
        y = bind(nn.CONV, x, w, strides=(1, 1), padding=pad, dilation=(1, 1), groups=1)
        return y, ops.tanh(y)
    got_y, got_z = compiled(fn, x, w)
    want = nn._conv_kernel(*f64(x, w), (1, 1), pad, (1, 1), 1)
    assert_close(got_y, want)
    assert_close(got_z, np.tanh(want))


GRADS = ["2d_valid", "2d_same_stride2", "2d_dilated_same", "1d_same_stride2", "3d_same",
         "pointwise_stride2", "chunks"]


@pytest.mark.parametrize("case", GRADS)
def test_conv_input_and_filter_grads_match_eager(case):
    xs, ws, strides, padding, dilation = FORWARD[case]
    x, w = f32(*xs), f32(*ws)
    pad = pads(xs[1:-1], ws[:-2], strides, dilation, padding)
    out_shape = nn._conv_kernel(x, w, strides, pad, dilation, 1).shape
    ct = f32(*out_shape)
    attrs = dict(strides=strides, padding=pad, dilation=dilation, groups=1)

    def fn(x, w, ct):
        dx = bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=tuple(xs[1:-1]), **attrs)
        dw = bind(nn.CONV_FILTER_GRAD, x, ct, kernel_spatial=tuple(ws[:-2]), **attrs)
        return dx * 2.0, dw
    got_dx, got_dw = compiled(fn, x, w, ct)
    xd, wd, cd = f64(x, w, ct)
    assert_close(got_dx, 2.0 * nn._conv_input_grad_kernel(cd, wd, tuple(xs[1:-1]), **attrs))
    assert_close(got_dw, nn._conv_filter_grad_kernel(xd, cd, tuple(ws[:-2]), **attrs))


def test_channels_first_conv_layer():
    layer = layers.Conv2D(6, 3, strides=2, padding="same", data_format="channels_first",
                          activation="relu")
    x = f32(2, 3, 9, 8)
    want = np.asarray(layer(x))
    got, = compiled(lambda x: layer(x), x)
    assert_close(got, want)


def test_cnn_gradients_through_jit():
    """Conv2D + MaxPool + Dense: value_and_grad inside gk.jit against the eager tape."""
    gk.utils.set_random_seed(3)
    model = gk.Sequential([gk.Input((10, 10, 2)), layers.Conv2D(4, 3, activation="relu"),
                           layers.MaxPooling2D(2), layers.Conv2D(3, 2, padding="same"),
                           layers.AveragePooling2D(2), layers.Flatten(), layers.Dense(3)])
    x = f32(4, 10, 10, 2)
    weights = list(model.trainable_weights)

    def loss(x, *ws):
        def inner(*ws_):
            out = model.stateless_call(list(ws_), [], x)[0] if hasattr(
                model, "stateless_call") else model(x)
            return ops.sum(out * out)
        return gk.value_and_grad(inner, argnums=tuple(range(len(ws))))(*ws)

    values = [w.numpy() for w in weights]
    got = compiled(loss, x, *values)
    want = [np.asarray(t) for t in gk.tree.flatten(loss(x, *values))]
    assert len(got) == len(want) == 1 + len(weights)
    for g, w_ in zip(got, want):
        np.testing.assert_allclose(g, w_, rtol=2e-4, atol=2e-5 * np.max(np.abs(w_)))


def test_winograd_is_chosen_for_the_big_3x3_cases():
    from graphkit.codegen import conv as cv
    for case in ("winograd_valid", "winograd_same_tails", "2d_valid", "chunks"):
        xs, ws, strides, padding, dilation = FORWARD[case]
        pad = pads(xs[1:-1], ws[:-2], strides, dilation, padding)
        out = nn._conv_kernel(f32(*xs), f32(*ws), strides, pad, dilation, 1).shape
        geo = cv.windows(xs[1:-1], out[1:-1], ws[:-2], strides, dilation, pad, xs[0], xs[-1])
        assert cv._winograd_ok(geo, "float32", ws[-1]) == case.startswith("winograd")


# (x shape, kernel shape (*window, Cin // groups, Cout), strides, padding)
GROUPED = {
    "depthwise": ((2, 9, 8, 20), (3, 3, 1, 20), (1, 1), "same"),
    "depthwise_multiplier": ((2, 9, 8, 6), (3, 3, 1, 18), (2, 2), "same"),
    "groups_wide": ((2, 7, 7, 8), (3, 3, 4, 64), (1, 1), "valid"),   # 2 groups of 32 outputs
    "groups_1d": ((3, 12, 6), (3, 2, 9), (1,), "same"),               # 3 groups
}


@pytest.mark.parametrize("case", list(GROUPED))
def test_grouped_conv_matches_eager(case):
    xs, ws, strides, padding = GROUPED[case]
    x, w, bias = f32(*xs), f32(*ws), f32(ws[-1])
    groups = xs[-1] // ws[-2]
    dilation = (1,) * len(strides)
    pad = pads(xs[1:-1], ws[:-2], strides, dilation, padding)

    def fn(x, w, bias):
        y = bind(nn.CONV, x, w, strides=strides, padding=pad, dilation=dilation, groups=groups)
        return ops.relu(y + bias)
    got, = compiled(fn, x, w, bias)
    xd, wd, bd = f64(x, w, bias)
    assert_close(got, np.maximum(nn._conv_kernel(xd, wd, strides, pad, dilation, groups) + bd, 0))


def test_depthwise_conv_op():
    x, k = f32(2, 8, 8, 5), f32(3, 3, 5, 2)   # depth multiplier 2
    want = np.asarray(ops.depthwise_conv(x, k, padding="same"))
    got, = compiled(lambda x, k: ops.depthwise_conv(x, k, padding="same"), x, k)
    assert_close(got, want)


@pytest.mark.parametrize("case", list(GROUPED))
def test_grouped_conv_grads_match_eager(case):
    xs, ws, strides, padding = GROUPED[case]
    x, w = f32(*xs), f32(*ws)
    groups = xs[-1] // ws[-2]
    dilation = (1,) * len(strides)
    pad = pads(xs[1:-1], ws[:-2], strides, dilation, padding)
    attrs = dict(strides=strides, padding=pad, dilation=dilation, groups=groups)
    ct = f32(*nn._conv_kernel(x, w, **attrs).shape)

    def fn(x, w, ct):
        return (bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=tuple(xs[1:-1]), **attrs),
                bind(nn.CONV_FILTER_GRAD, x, ct, kernel_spatial=tuple(ws[:-2]), **attrs))
    got_dx, got_dw = compiled(fn, x, w, ct)
    xd, wd, cd = f64(x, w, ct)
    assert_close(got_dx, nn._conv_input_grad_kernel(cd, wd, tuple(xs[1:-1]), **attrs))
    assert_close(got_dw, nn._conv_filter_grad_kernel(xd, cd, tuple(ws[:-2]), **attrs))


def test_float64_conv_and_grads():
    x, w = RNG.standard_normal((2, 7, 6, 3)), RNG.standard_normal((3, 2, 3, 5))
    pad = pads((7, 6), (3, 2), (1, 2), (1, 1), "same")
    attrs = dict(strides=(1, 2), padding=pad, dilation=(1, 1), groups=1)
    ct = RNG.standard_normal(nn._conv_kernel(x, w, **attrs).shape)

    def fn(x, w, ct):
        return (bind(nn.CONV, x, w, **attrs),
                bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=(7, 6), **attrs),
                bind(nn.CONV_FILTER_GRAD, x, ct, kernel_spatial=(3, 2), **attrs))
    got = compiled(fn, x, w, ct)
    want = [nn._conv_kernel(x, w, **attrs), nn._conv_input_grad_kernel(ct, w, (7, 6), **attrs),
            nn._conv_filter_grad_kernel(x, ct, (3, 2), **attrs)]
    for g, r in zip(got, want):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


def test_input_grad_of_images_too_big_for_a_chunk(monkeypatch):
    """The fallback for huge images: one whole patch matrix in scratch, then col2im."""
    from graphkit.codegen import conv as cv
    monkeypatch.setattr(cv, "INPUT_GRAD_CHUNK_BYTES", 0)
    w, ct = f32(3, 3, 3, 4), f32(2, 5, 6, 4)
    attrs = dict(strides=(2, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
    got, = compiled(lambda ct, w: bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=(9, 6),
                                       **attrs), ct, w)
    cd, wd = f64(ct, w)
    assert_close(got, nn._conv_input_grad_kernel(cd, wd, (9, 6), **attrs))
