"""`gk.ops`: every op, in eager, symbolic and traced modes, with one definition each.

Primitives live in elementwise, reduction, linalg, layout, creation, nn, sorting and random;
composites (softmax, gelu, cross-entropies, mean, var, einsum, ...) are written with them.
"""
from graphkit.ops.convert import convert_to_numpy, convert_to_tensor, is_tensor
from graphkit.ops.creation import (arange, empty, eye, full, full_like, identity, linspace,
                                   ones, ones_like, tri, zeros, zeros_like)
from graphkit.ops.elementwise import (
    abs, absolute, add, cast, ceil, clip, cos, cosh, divide, divide_no_nan, equal, erf, exp,
    expm1, floor, floor_divide, greater, greater_equal, isclose, isfinite, isinf, isnan, less,
    less_equal, log, log1p, log2, log10, logaddexp, logical_and, logical_not, logical_or,
    logical_xor, maximum, minimum, mod, multiply, nan_to_num, negative, not_equal, power,
    reciprocal, round, rsqrt, select, sigmoid, sign, sin, sinh, sqrt, square, stop_gradient,
    subtract, tan, tanh, true_divide, where)
from graphkit.ops.layout import (
    append, broadcast_to, concatenate, diag, diagonal, expand_dims, flip, getitem, hstack,
    moveaxis, ndim, pad, ravel, repeat, reshape, roll, scatter_add, shape, size, slice,
    slice_update, split, squeeze, stack, swapaxes, take, take_along_axis, tile, transpose,
    tril, triu, unstack, vstack)
from graphkit.ops.linalg import (dot, einsum, inner, matmul, norm, outer, tensordot, trace,
                                 vdot)
from graphkit.ops.primitive import PRIMITIVES, Primitive, bind
from graphkit.ops.reduction import (all, amax, amin, any, argmax, argmin, average,
                                    count_nonzero, cumsum, logsumexp, max, mean, min, prod,
                                    std, sum, var)
from graphkit.ops.nn import (
    average_pool, batch_normalization, binary_crossentropy, categorical_crossentropy, conv,
    conv_transpose, depthwise_conv, dropout, elu, gelu, hard_sigmoid, hard_silu, hard_swish,
    leaky_relu, log_sigmoid, log_softmax, max_pool, moments, multi_hot, normalize, one_hot,
    relu, relu6, selu, silu, softmax, softplus, softsign, sparse_categorical_crossentropy,
    swish)
from graphkit.ops.sorting import argsort, in_top_k, sort, top_k
from graphkit.ops import random as _random_ops  # noqa: F401,E402  (registers random_bits)
