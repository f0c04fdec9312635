"""`gk.ops`: every op, in eager, symbolic and traced modes, with one definition each.

Primitives live in elementwise, reduction, linalg, layout, creation, nn, sorting and random;
composites (softmax, gelu, cross-entropies, mean, var, einsum, ...) are written with them,
and so is control flow (control_flow: cond, switch, loops as Python over ops, unrolled when
traced).
Each public composite is wrapped (see symbolic_calls) so that, called on KerasTensors at the
top level of a functional graph, it is one node named after it, as a primitive is.
"""
from graphkit.ops.control_flow import (associative_scan, cond, fori_loop, map, scan, switch,
                                       vectorized_map, while_loop)
from graphkit.ops.convert import array, convert_to_numpy, convert_to_tensor, dtype, is_tensor
from graphkit.ops.creation import (arange, bartlett, blackman, empty, empty_like, eye, full,
                                   full_like, geomspace, hamming, hanning, identity, linspace,
                                   logspace, ones, ones_like, tri, zeros, zeros_like)
from graphkit.ops.elementwise import (
    abs, absolute, add, allclose, bitwise_and, bitwise_invert, bitwise_left_shift, bitwise_not,
    bitwise_or, bitwise_right_shift, bitwise_xor, cast, cbrt, ceil, clip, cos, cosh, deg2rad,
    divide, divide_no_nan, equal, erf, exp, exp2, expm1, fabs, floor, floor_divide, fmax, fmin,
    fmod, greater, greater_equal, heaviside, hypot, isclose, isfinite, isinf, isnan, isneginf,
    isposinf, isreal, ldexp, less, less_equal, log, log1p, log2, log10, logaddexp, left_shift,
    logaddexp2, logical_and, logical_not, logical_or, logical_xor, maximum, minimum, mod,
    multiply, nan_to_num, negative, not_equal, power, rad2deg, reciprocal, right_shift, round,
    rsqrt, saturate_cast, select, sigmoid, sign, signbit, sin, sinc, sinh, sqrt, square,
    stop_gradient, subtract, tan, tanh, true_divide, trunc, where)
from graphkit.ops.layout import (
    append, array_split, broadcast_to, concatenate, copy, depth_to_space, diag, diagflat,
    diagonal, diff, dsplit, dstack, expand_dims, flip, fliplr, flipud, get_item, getitem,
    hsplit, hstack, meshgrid, moveaxis, ndim, pad, ravel, repeat, reshape, roll, rot90,
    scatter, scatter_add, scatter_update, segment_sum, shape, size, slice, slice_update,
    space_to_depth, split, squeeze, stack, swapaxes, take, take_along_axis, tile, transpose,
    tril, triu, unravel_index, unstack, vander, vsplit, vstack)
from graphkit.ops.linalg import (corrcoef, cross, dot, einsum, inner, kron, matmul, norm,
                                 outer, tensordot, trace, vdot)
from graphkit.ops.primitive import PRIMITIVES, Primitive, bind
from graphkit.ops.reduction import (all, amax, amin, any, argmax, argmin, average,
                                    count_nonzero, cumprod, cumsum, logsumexp, max, mean, min,
                                    nanargmax, nanargmin, nancumprod, nancumsum, nanmax,
                                    nanmean, nanmin, nanprod, nanstd, nansum, nanvar, prod,
                                    ptp, std, sum, trapezoid, var)
from graphkit.ops.nn import (
    average_pool, batch_normalization, binary_crossentropy, categorical_crossentropy, celu,
    conv, conv_transpose, depthwise_conv, dot_product_attention, dropout, elu, gelu, glu,
    hard_shrink, hard_sigmoid, hard_silu, hard_swish, hard_tanh, layer_normalization,
    leaky_relu, log_sigmoid, log_softmax, max_pool, moments, multi_hot, normalize, one_hot,
    psnr, relu, relu6, rms_normalization, selu, separable_conv, silu, soft_shrink, softmax,
    softplus, softsign,
    sparse_categorical_crossentropy, sparse_plus, sparse_sigmoid, sparsemax, squareplus,
    swish, tanh_shrink, threshold)
from graphkit.ops.sorting import (argsort, digitize, in_top_k, isin, median, percentile,
                                  quantile, searchsorted, sort, top_k)
from graphkit.ops import random as _random_ops  # noqa: F401,E402  (registers random_bits)
from graphkit.ops.symbolic_calls import wrap_namespace as _wrap_namespace  # noqa: E402

_wrap_namespace(globals())
