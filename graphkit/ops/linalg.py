"""Linear algebra: the batched, broadcasting `matmul` primitive, and dot, tensordot, einsum,
outer, inner and norm written with it."""
import builtins
import string

import numpy as np

from graphkit import config, dtypes
from graphkit.core.tensor import Tensor
from graphkit.ops.convert import promote, to_value
from graphkit.ops.layout import TRANSPOSE, carry, reshape_carrying
from graphkit.ops.primitive import ops_namespace as _o, Aval, Primitive, ShapeError, bind
from graphkit.ops.shape_rules import broadcast_shapes, normalize_axis



# -- matmul ------------------------------------------------------------------------------

def _matmul_infer(a, b):
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"matmul: operands must have rank >= 2 here, received x1 "
                         f"{tuple(a.shape)} and x2 {tuple(b.shape)}")
    if a.dtype != b.dtype:
        raise ShapeError(f"matmul: operand dtypes differ ({a.dtype} vs {b.dtype})")
    k1, k2 = a.shape[-1], b.shape[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ShapeError(f"matmul: inner dimensions differ: x1 {tuple(a.shape)} vs x2 "
                         f"{tuple(b.shape)} ({k1} != {k2})")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="matmul (batch dimensions)")
    return Aval(batch + (a.shape[-2], b.shape[-1]), a.dtype)


def _swap_last(x):
    # The permutation is valid by construction: bind it without transpose()'s checks
    # (matmul's gradient swaps two operands on every eager backward pass).
    ndim = x.ndim
    return bind(TRANSPOSE, x, perm=tuple(range(ndim - 2)) + (ndim - 1, ndim - 2))


def _matmul_grad(ct, out, a, b, needs=(True, True)):
    from graphkit.ops.elementwise import unbroadcast
    # A layer's input gradient is the largest matmul of a backward pass; for the data it is
    # not needed, so it is skipped when the tape says so.
    return (unbroadcast(bind(MATMUL, ct, _swap_last(b)), a.shape) if needs[0] else None,
            unbroadcast(bind(MATMUL, _swap_last(a), ct), b.shape) if needs[1] else None)


MATMUL = Primitive("matmul", eager=np.matmul, infer=_matmul_infer, grad=_matmul_grad,
                   category="matmul", grad_needs=True, grad_uses=(0, 1))


def _matmul_operands(x1, x2):
    a, b = promote(x1, x2)
    if (a._array.dtype.kind == "b") if type(a) is Tensor else a.dtype == "bool":
        a, b = _o().cast(a, "int32"), _o().cast(b, "int32")
    return a, b


def matmul(x1, x2):
    """NumPy's matmul: batched over leading dims (broadcast), 1-D operands promoted to
    matrices and the added dim removed afterwards."""
    a, b = _matmul_operands(x1, x2)
    if type(a) is Tensor and type(b) is Tensor and a._array.ndim >= 2 \
            and b._array.ndim >= 2:
        # Eager matrices (every Dense layer, every step): the kernel itself rejects
        # mismatched operands, and the shape rule then explains why (Tensor._bind).
        return bind(MATMUL, a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must be at least 1-D, received x1 "
                         f"{tuple(a.shape)} and x2 {tuple(b.shape)}")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape[0] is not None and b.shape[0] is not None and a.shape[0] != b.shape[0]:
            raise ShapeError(f"matmul: inner dimensions differ: x1 {tuple(a.shape)} vs x2 "
                             f"{tuple(b.shape)}")
    squeeze_axes = []
    if a.ndim == 1:
        a = _o().reshape(a, (1,) + tuple(a.shape))
        squeeze_axes.append(-2)
    if b.ndim == 1:
        b = _o().reshape(b, tuple(b.shape) + (1,))
        squeeze_axes.append(-1)
    if a.shape[-1] is not None and b.shape[-2] is not None and a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"matmul: inner dimensions differ: x1 {tuple(to_value(x1).shape)} vs "
                         f"x2 {tuple(to_value(x2).shape)}")
    out = bind(MATMUL, a, b)
    if squeeze_axes:
        out = _o().squeeze(out, axis=tuple(squeeze_axes))
    return out


# -- dot, tensordot, outer, inner ----------------------------------------------------------

def tensordot(x1, x2, axes=2):
    """Contract `axes` of x1 with `axes` of x2 (NumPy's conventions), as one matmul."""
    a, b = _matmul_operands(x1, x2)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > builtins.min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: cannot contract {n} axes of x1 {tuple(a.shape)} "
                             f"with x2 {tuple(b.shape)}")
        axes_a, axes_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
        if len(axes_a) != len(axes_b):
            raise ShapeError(f"tensordot: axes {axes} name different numbers of axes")
        axes_a = [int(i) % a.ndim for i in axes_a]
        axes_b = [int(i) % b.ndim for i in axes_b]
    for i, j in zip(axes_a, axes_b):
        da, db = a.shape[i], b.shape[j]
        if da is not None and db is not None and da != db:
            raise ShapeError(f"tensordot: contracted dims differ: x1 {tuple(a.shape)} axis {i} "
                             f"vs x2 {tuple(b.shape)} axis {j}")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    contract = _prod([a.shape[i] if a.shape[i] is not None else b.shape[j]
                      for i, j in zip(axes_a, axes_b)])
    kept = tuple(carry(i) for i in range(len(free_a)))  # a's free dims, carried through
    a2 = reshape_carrying(_o().transpose(a, free_a + axes_a),
                          (kept if free_a else (1,)) + (contract,))
    b_free = tuple(b.shape[i] for i in free_b)
    b2 = _o().reshape(_o().transpose(b, axes_b + free_b), (contract, _prod(b_free)))
    out = bind(MATMUL, a2, b2)
    return reshape_carrying(out, kept + b_free)


def _prod(dims):
    n = 1
    for d in dims:
        if d is None:
            return None
        n *= d
    return n


def dot(x1, x2):
    """NumPy's dot: a product with scalars, the inner product of vectors, and otherwise a
    contraction of x1's last axis with x2's second-to-last (its only axis when 1-D)."""
    a, b = _matmul_operands(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return _o().multiply(a, b)
    if b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


def vdot(x1, x2):
    return dot(_o().ravel(x1), _o().ravel(x2))


def inner(x1, x2):
    a, b = _matmul_operands(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return _o().multiply(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


def outer(x1, x2):
    a, b = promote(x1, x2)
    return _o().multiply(_o().reshape(a, (-1, 1)), _o().reshape(b, (1, -1)))



def kron(x1, x2):
    """The Kronecker product: block (i, j, ...) is x1[i, j, ...] * x2. The shapes are
    aligned on the right (leading 1s), the operands interleaved as (a1, 1, a2, 1, ...) and
    (1, b1, 1, b2, ...), multiplied, and merged pairwise to (a1 b1, a2 b2, ...)."""
    ops = _o()
    a, b = promote(x1, x2)
    ndim = builtins.max(a.ndim, b.ndim)
    a_shape = (1,) * (ndim - a.ndim) + tuple(a.shape)
    b_shape = (1,) * (ndim - b.ndim) + tuple(b.shape)
    if None in a_shape + b_shape:
        raise ShapeError(f"kron: the shapes must be static, received {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    a = ops.reshape(a, tuple(d for n in a_shape for d in (n, 1)))
    b = ops.reshape(b, tuple(d for n in b_shape for d in (1, n)))
    return ops.reshape(ops.multiply(a, b), tuple(m * n for m, n in zip(a_shape, b_shape)))

def trace(x, offset=0, axis1=0, axis2=1):
    x = to_value(x)
    moved = _o().moveaxis(x, (axis1, axis2), (-2, -1))
    mask = _o().eye(moved.shape[-2], moved.shape[-1], k=offset, dtype=moved.dtype)
    return _o().sum(moved * mask, axis=(-2, -1))


# -- einsum ------------------------------------------------------------------------------

def _parse_einsum(subscripts, operands):
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, out = subscripts.split("->")
    else:
        lhs, out = subscripts, None
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operands, "
                         f"received {len(operands)}")
    # Replace each ellipsis by fresh letters, right-aligned as in NumPy broadcasting.
    used = set(subscripts)
    fresh = [c for c in string.ascii_letters if c not in used]
    n_ell = builtins.max([x.ndim - (len(t) - 3) for t, x in zip(terms, operands) if "..." in t],
                         default=0)
    ell = "".join(fresh[:n_ell])
    expanded = []
    for t, x in zip(terms, operands):
        if "..." in t:
            k = x.ndim - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k:] if k else "")
        if len(t) != x.ndim:
            raise ShapeError(f"einsum: subscripts {t!r} do not match an operand of shape "
                             f"{tuple(x.shape)}")
        if len(set(t)) != len(t):
            raise ValueError(f"einsum: repeated index in {t!r} (diagonals) is not supported")
        expanded.append(t)
    if out is None:
        counts = {}
        for t in expanded:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    for c in out:
        if not any(c in t for t in expanded):
            raise ValueError(f"einsum: output index {c!r} does not appear in the inputs")
    return expanded, out


def _sum_out(x, term, keep):
    """Sum over the indices of `term` not in `keep`."""
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    if not axes:
        return x, term
    return _o().sum(x, axis=axes), "".join(c for c in term if c in keep)


def _dims_of(terms_and_values):
    dims = {}
    for t, x in terms_and_values:
        for c, d in zip(t, x.shape):
            if d is not None and d != 1:
                if dims.get(c, d) != d:
                    raise ShapeError(f"einsum: index {c!r} has sizes {dims[c]} and {d}")
                dims[c] = d
            elif c not in dims or dims[c] is None:
                dims.setdefault(c, d)
                if dims[c] == 1 and d is None:
                    dims[c] = None
    return dims


def _contract_pair(a, ta, b, tb, keep):
    """Contract two operands with index strings ta, tb into indices `keep`, as one batched
    matmul: (batch..., left-free..., C) @ (batch..., 1.., C, right-free)."""
    ops = _o()
    a, ta = _sum_out(a, ta, set(tb) | set(keep))
    b, tb = _sum_out(b, tb, set(ta) | set(keep))
    dims = _dims_of([(ta, a), (tb, b)])
    batch = [c for c in ta if c in tb and c in keep]
    contract = [c for c in ta if c in tb and c not in keep]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]
    a = ops.transpose(a, [ta.index(c) for c in batch + left + contract])
    b = ops.transpose(b, [tb.index(c) for c in batch + contract + right])
    nb, nl, nc = len(batch), len(left), len(contract)
    # Batch and left-free dims are carried through (they may be unknown in symbolic mode);
    # the contracted and right-free dims are merged, or carried when there is only one
    # (a sequence axis of attention, 'bqd,bkd->bqk', is unknown and alone).
    kept = tuple(carry(i) for i in range(nb + nl))
    a = reshape_carrying(a, kept + ((1,) if not left else ())
                         + (_merged(contract, dims, nb + nl),))
    b = reshape_carrying(b, tuple(carry(i) for i in range(nb)) + (1,) * (builtins.max(nl, 1) - 1)
                         + (_merged(contract, dims, nb), _merged(right, dims, nb + nc)))
    out = matmul(a, b)
    right_dims = (carry(out.ndim - 1),) if len(right) == 1 else tuple(dims[c] for c in right)
    out = reshape_carrying(out, kept + right_dims)
    return out, "".join(batch + left + right)


def _merged(indices, dims, first):
    """The reshape entry for the operand's dims of `indices` (at `first` on) merged into one:
    the dim itself, carried, when there is one, else the product of the sizes."""
    if len(indices) == 1:
        return carry(first)
    return _prod([dims[c] for c in indices])


def einsum(subscripts, *operands):
    """Einsum for the common patterns: any number of operands, free/batch/contracted
    indices, ellipses and implicit output; not repeated indices within one operand."""
    values = [to_value(x) for x in operands]
    values = promote(*values) if len(values) > 1 else values
    if values and values[0].dtype == "bool":
        values = [_o().cast(v, "int32") for v in values]
    terms, out = _parse_einsum(subscripts, values)
    x, t = values[0], terms[0]
    for i in range(1, len(values)):
        later = set(out).union(*terms[i + 1:])
        x, t = _contract_pair(x, t, values[i], terms[i], later)
    x, t = _sum_out(x, t, set(out))
    return _o().transpose(x, [t.index(c) for c in out])


# -- norms -------------------------------------------------------------------------------

def norm(x, ord=None, axis=None, keepdims=False):
    """Vector and matrix norms: None/'fro' (2-norm of the flattened axes), 1, 2, inf for
    vectors; 'fro', 1, inf for matrices."""
    ops = _o()
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        x = ops.cast(x, config.floatx())
    axes = normalize_axis(axis, x.ndim, "norm")
    if ord is None or ord == "fro" or (ord == 2 and len(axes) == 1):
        return ops.sqrt(ops.sum(x * x, axis=axes, keepdims=keepdims))
    if len(axes) == 1:
        if ord == 1:
            return ops.sum(ops.abs(x), axis=axes, keepdims=keepdims)
        if ord in (np.inf, "inf"):
            return ops.max(ops.abs(x), axis=axes, keepdims=keepdims)
        if isinstance(ord, (int, float)) and ord > 0:
            return ops.power(ops.sum(ops.power(ops.abs(x), ord), axis=axes, keepdims=keepdims),
                             1.0 / ord)
    elif len(axes) == 2:
        r, c = axes
        if ord == 1:
            return ops.max(ops.sum(ops.abs(x), axis=r, keepdims=True), axis=(r, c),
                           keepdims=keepdims)
        if ord in (np.inf, "inf"):
            return ops.max(ops.sum(ops.abs(x), axis=c, keepdims=True), axis=(r, c),
                           keepdims=keepdims)
    raise ValueError(f"norm: ord={ord!r} over {len(axes)} axes is not supported "
                     "(supported: None, 'fro', 1, 2, inf, p > 0 for vectors; 'fro', 1, inf "
                     "for matrices)")


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 2- or 3-vectors along `axisa` of x1 and `axisb` of x2 (`axis`
    sets all three), broadcasting the other axes; NumPy's rules: 2-vectors have z = 0, and
    two 2-vectors give the z component alone (no vector axis)."""
    ops = _o()
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = promote(x1, x2)
    a = ops.moveaxis(a, _vector_axis(a, axisa, "axisa"), -1)
    b = ops.moveaxis(b, _vector_axis(b, axisb, "axisb"), -1)
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    a0, a1, a2 = _components(a)
    b0, b1, b2 = _components(b)
    out = ops.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return ops.moveaxis(out, -1, _vector_axis(out, axisc, "axisc"))


def _vector_axis(x, axis, name):
    from graphkit.ops.shape_rules import canonical_axis
    if x.ndim == 0:
        raise ShapeError("cross: the operands must have a vector axis (rank >= 1)")
    axis = canonical_axis(axis, x.ndim, f"cross ({name})")
    if name != "axisc" and x.shape[axis] not in (2, 3):
        raise ShapeError(f"cross: the vectors along {name}={axis} must have 2 or 3 "
                         f"components, received shape {tuple(x.shape)}")
    return axis


def _components(v):
    """(x, y, z) of vectors on the last axis, z = 0 for 2-vectors."""
    z = v[..., 2] if v.shape[-1] == 3 else _o().zeros_like(v[..., 0])
    return v[..., 0], v[..., 1], z


def corrcoef(x):
    """Pearson correlation coefficients of the rows (variables) of a 1- or 2-D `x`, whose
    columns are observations; clipped to [-1, 1] as NumPy. Ints compute in floatx. One
    variable (1-D, or one row) gives a scalar, as NumPy."""
    ops = _o()
    x = to_value(x)
    if x.ndim not in (1, 2):
        raise ShapeError(f"corrcoef: `x` must be 1-D or 2-D, received shape {tuple(x.shape)}")
    if not dtypes.is_float(x.dtype):
        x = ops.cast(x, config.floatx())
    rows = x if x.ndim == 2 else x[None, :]
    centred = rows - ops.mean(rows, axis=1, keepdims=True)
    cov = ops.matmul(centred, ops.transpose(centred))  # the 1/(n-1) cancels below
    std = ops.sqrt(ops.diagonal(cov))
    out = ops.clip(cov / (std[:, None] * std[None, :]), -1.0, 1.0)
    return out if rows.shape[0] != 1 else out[0, 0]
