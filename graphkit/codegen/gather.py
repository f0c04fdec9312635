"""Gather kernels (take, take_along_axis) and their adjoints (scatter_add,
scatter_add_along_axis) as native code.

Every operand is seen as (outer, N, inner) around the gathered `axis` (N = the operand's
dim there, outer/inner = the products of the dims before/after it); indices and updates as
(outer, K, inner) for the *along_axis* forms and (K,) for take/scatter_add:

    take                    out[o, k, j] = x[o, idx[k], j]
    take_along_axis         out[o, k, j] = x[o, idx[o, k, j], j]
    scatter_add             out = x;  out[o, idx[k], j] += updates[o, k, j]
    scatter_add_along_axis  out = x;  out[o, idx[o, k, j], j] += updates[o, k, j]

Indices: negative ones count from the end (NumPy). An index still out of [0, N) makes the
eager kernels raise; native code cannot raise, so it is clamped into range (memory stays
safe, and take and scatter_add stay each other's adjoints).

Vectors run along j when inner > 1; with inner == 1 the gathers vectorize along k instead.
Scatter-adds partition the output by (o, j) across threads (whole o ranges when outer > 1,
else j ranges), so no two threads touch one element, and each thread adds the updates of
an element in increasing k: the order of np.add.at, hence the same float results, with
repeated indices accumulated.
"""
import math

from llvmlite import ir

from graphkit import dtypes
from graphkit.codegen import loops, parallel
from graphkit.codegen.elementwise import default_lanes
from graphkit.codegen.llvm_types import I64, const, iota, splat, vector_of
from graphkit.codegen.lower_kernel import SubKernel, Unsupported
from graphkit.codegen.layout import COPY_DTYPES, scatter

INDEX_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
ADD_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64")


def lower_gather(module, node, info, lowering):
    """Append the sub-kernel of a gather kernel (one op) to `lowering`."""
    if len(info.body.nodes) != 1:
        raise Unsupported(f"kernel {info.name} (gather): expected one op, found {info.members}")
    n = info.body.nodes[0]
    emit = _GATHER_OPS.get(n.op)
    if emit is None:
        raise Unsupported(f"kernel {info.name} (gather): op '{n.op}' has no native lowering; "
                          f"supported: {', '.join(sorted(_GATHER_OPS))}")
    x, idx = n.operands[0], n.operands[1]
    dtype, index_dtype = x.type.dtype, idx.type.dtype
    allowed = ADD_DTYPES if n.op.startswith("scatter") else COPY_DTYPES
    if dtype not in allowed or index_dtype not in INDEX_DTYPES:
        raise Unsupported(f"kernel {info.name} ({n.op}): data {dtype} with indices "
                          f"{index_dtype} has no native lowering (data: {', '.join(allowed)}; "
                          f"indices: {', '.join(INDEX_DTYPES)})")
    if x.type.shape[n.attrs["axis"]] == 0:
        raise Unsupported(f"kernel {info.name} ({n.op}): axis {n.attrs['axis']} of the "
                          f"operand (shape {tuple(x.type.shape)}) is empty: no index is valid")
    geometry = _Geometry(tuple(x.type.shape), n.attrs["axis"], tuple(idx.type.shape),
                         "uint8" if dtype == "bool" else dtype, index_dtype,
                         along_axis=n.op.endswith("along_axis"))
    name = f"{info.name}_{len(lowering.subkernels)}"
    emit(module, name, geometry)
    operands = [info.node.operands[info.body.params.index(v)] for v in n.operands]
    lowering.subkernels.append(SubKernel(
        name, [("value", v) for v in operands] + [("value", node.outputs[0])]))


class _Geometry:
    """Sizes of the (outer, N, inner) view and the dtypes of one gather kernel."""

    def __init__(self, x_shape, axis, idx_shape, dtype, index_dtype, along_axis):
        self.outer = math.prod(x_shape[:axis])
        self.n = x_shape[axis]
        self.inner = math.prod(x_shape[axis + 1:])
        self.dtype, self.index_dtype = dtype, index_dtype
        # K: the gathered positions per (o, j): take reads every index for each of them
        self.k = idx_shape[axis] if along_axis else math.prod(idx_shape)
        self.itemsize = dtypes.itemsize(dtype)

    def parallel(self, elements):
        return 2 * elements * self.itemsize >= parallel.MIN_PARALLEL_WORK


# -- shared pieces -------------------------------------------------------------------------

def _load_index(b, ptr, geo, flat, lanes, mask=None):
    """Indices at `flat` (i64; `lanes` contiguous ones) as i64, wrapped and clamped to [0, N)."""
    dt = geo.index_dtype
    p = loops.element_ptr(b, ptr, dt, flat)
    if lanes > 1 and mask is not None:
        raw = loops.masked_load(b, p, dt, mask, lanes)
    else:
        raw = loops.load_value(b, p, dt, lanes)
    ty = vector_of(I64, lanes)
    if dt != "int64" and dt != "uint64":
        raw = b.sext(raw, ty) if dt.startswith("int") else b.zext(raw, ty)
    n = const(ty, geo.n)
    zero = const(ty, 0)
    if dt.startswith("int"):
        raw = b.select(b.icmp_signed("<", raw, zero), b.add(raw, n), raw)
        raw = b.select(b.icmp_signed("<", raw, zero), zero, raw)
    last = const(ty, geo.n - 1)
    return b.select(b.icmp_unsigned(">", raw, last), last, raw)


def _load(b, base, dt, j, lanes, mask):
    p = loops.element_ptr(b, base, dt, j)
    if mask is None:
        return loops.load_value(b, p, dt, lanes)
    return loops.masked_load(b, p, dt, mask, lanes)


def _store(b, v, base, dt, j, lanes, mask):
    p = loops.element_ptr(b, base, dt, j)
    if mask is None:
        loops.store_value(b, v, p, dt, lanes)
    else:
        loops.masked_store(b, v, p, dt, mask, lanes)


def _gather(b, base, dt, offsets, lanes, mask):
    m = mask if mask is not None else const(ir.VectorType(ir.IntType(1), lanes), 1)
    return loops.gather(b, base, dt, offsets, m, lanes)


def _lane_ids(lanes):
    return iota(ir.VectorType(I64, lanes))


def _ptr(b, base, dt, offset):
    return loops.element_ptr(b, base, dt, offset)


# -- take ------------------------------------------------------------------------------------

def emit_take(module, name, geo, lanes=None):
    """args = [x, idx, out]."""
    lanes = lanes or default_lanes()
    dt, K, N, inner = geo.dtype, geo.k, geo.n, geo.inner

    def rows_body(b, args, tid, nth):  # inner > 1: one contiguous row of x per index
        x, idx, out = (loops.arg_pointer(b, args, k) for k in range(3))
        rb, re = parallel.split_range(b, tid, nth, I64(geo.outer * K))
        with loops.for_range(b, rb, re, name="row") as r:
            o, k = b.udiv(r, I64(K)), b.urem(r, I64(K))
            i = _load_index(b, idx, geo, k, 1)
            src = _ptr(b, x, dt, b.mul(b.add(b.mul(o, I64(N)), i), I64(inner)))
            dst = _ptr(b, out, dt, b.mul(r, I64(inner)))
            loops.vector_loop(b, I64(0), I64(inner), lanes, lambda j, m: _store(
                b, _load(b, src, dt, j, lanes, m), dst, dt, j, lanes, m))

    def gather_body(b, args, tid, nth):  # inner == 1: gather `lanes` indices at a time
        x, idx, out = (loops.arg_pointer(b, args, k) for k in range(3))
        rb, re = parallel.split_range(b, tid, nth, I64(geo.outer))
        with loops.for_range(b, rb, re, name="row") as o:
            src = _ptr(b, x, dt, b.mul(o, I64(N)))
            dst = _ptr(b, out, dt, b.mul(o, I64(K)))

            def step(k, m):
                i = _load_index(b, idx, geo, k, lanes, m)
                _store(b, _gather(b, src, dt, i, lanes, m), dst, dt, k, lanes, m)
            loops.vector_loop(b, I64(0), I64(K), lanes, step)

    by_rows = inner > 1 or geo.outer * K == 1
    body = rows_body if by_rows else gather_body
    work_units = geo.outer * K if by_rows else geo.outer
    loops.define_kernel(module, name, body,
                        geo.parallel(geo.outer * K * inner) and work_units > 1)


def emit_take_along_axis(module, name, geo, lanes=None):
    """args = [x, idx, out]; idx and out are (outer, K, inner)."""
    lanes = lanes or default_lanes()
    dt, K, N, inner = geo.dtype, geo.k, geo.n, geo.inner
    along_j = inner > 1
    rows = geo.outer * K if along_j else geo.outer
    extent = inner if along_j else K

    def body(b, args, tid, nth):
        x, idx, out = (loops.arg_pointer(b, args, k) for k in range(3))
        rb, re = parallel.split_range(b, tid, nth, I64(rows))
        with loops.for_range(b, rb, re, name="row") as r:
            o = b.udiv(r, I64(K)) if along_j else r
            first = b.mul(r, I64(extent))          # flat position of the row in idx/out
            x_base = _ptr(b, x, dt, b.mul(o, I64(N * inner)))

            def step(v, m):
                i = _load_index(b, idx, geo, b.add(first, v), lanes, m)
                offsets = b.mul(i, splat(b, I64(inner), lanes)) if along_j else i
                if along_j:
                    offsets = b.add(offsets, b.add(splat(b, v, lanes), _lane_ids(lanes)))
                _store(b, _gather(b, x_base, dt, offsets, lanes, m), out, dt,
                       b.add(first, v), lanes, m)
            loops.vector_loop(b, I64(0), I64(extent), lanes, step)

    loops.define_kernel(module, name, body,
                        geo.parallel(geo.outer * K * inner) and rows > 1)


# -- scatter-add -------------------------------------------------------------------------------

class _Partition:
    """The (o range, j range) of one thread: whole o ranges when outer > 1, else j ranges."""

    def __init__(self, b, geo, tid, nth, lanes):
        if geo.outer > 1:
            self.ob, self.oe = parallel.split_range(b, tid, nth, I64(geo.outer))
            self.jb, self.je = I64(0), I64(geo.inner)
        else:
            self.ob, self.oe = I64(0), I64(1)
            self.jb, self.je = parallel.split_range(b, tid, nth, I64(geo.inner), align=lanes)


def _add(b, a, c, dt):
    return b.fadd(a, c) if dt.startswith("float") else b.add(a, c)


def _copy_operand(b, geo, x, out, part, lanes):
    """out[o, :, j] = x[o, :, j] over this thread's partition."""
    dt, N, inner = geo.dtype, geo.n, geo.inner
    with loops.for_range(b, part.ob, part.oe, name="o") as o:
        with loops.for_range(b, 0, N, name="n") as n:
            row = b.mul(b.add(b.mul(o, I64(N)), n), I64(inner))
            src, dst = _ptr(b, x, dt, row), _ptr(b, out, dt, row)
            loops.vector_loop(b, part.jb, part.je, lanes, lambda j, m: _store(
                b, _load(b, src, dt, j, lanes, m), dst, dt, j, lanes, m))


def _scatter_lanes(geo, lanes):
    # inner == 1 leaves no j to vectorize over: scalar adds
    return lanes if geo.inner > 1 else 1


def _emit_scatter(module, name, geo, lanes, make_step):
    """A scatter-add kernel, args = [x, idx, updates, out]: out = x, then for every outer
    row o and update k, `make_step(b, ptrs, o, k)` returns step(j, mask) run over this
    thread's inner range. Each thread owns whole outer rows or an inner slice, so no two
    threads ever add to the same element."""
    K, N, inner = geo.k, geo.n, geo.inner

    def body(b, args, tid, nth):
        ptrs = [loops.arg_pointer(b, args, k) for k in range(4)]
        part = _Partition(b, geo, tid, nth, lanes)
        _copy_operand(b, geo, ptrs[0], ptrs[3], part, lanes)
        with loops.for_range(b, part.ob, part.oe, name="o") as o:
            with loops.for_range(b, 0, K, name="k") as k:
                loops.vector_loop(b, part.jb, part.je, lanes, make_step(b, ptrs, o, k))

    split = geo.outer if geo.outer > 1 else inner // max(1, lanes)
    loops.define_kernel(module, name, body,
                        geo.parallel(geo.outer * (N + K) * inner) and split > 1)


def emit_scatter_add(module, name, geo, lanes=None):
    """args = [x, idx, updates, out]."""
    lanes = _scatter_lanes(geo, lanes or default_lanes())
    dt, K, N, inner = geo.dtype, geo.k, geo.n, geo.inner

    def make_step(b, ptrs, o, k):
        _, idx, upd, out = ptrs
        i = _load_index(b, idx, geo, k, 1)
        dst = _ptr(b, out, dt, b.mul(b.add(b.mul(o, I64(N)), i), I64(inner)))
        src = _ptr(b, upd, dt, b.mul(b.add(b.mul(o, I64(K)), k), I64(inner)))

        def step(j, m):
            total = _add(b, _load(b, dst, dt, j, lanes, m), _load(b, src, dt, j, lanes, m), dt)
            _store(b, total, dst, dt, j, lanes, m)
        return step

    _emit_scatter(module, name, geo, lanes, make_step)


def emit_scatter_add_along_axis(module, name, geo, lanes=None):
    """args = [x, idx, updates, out]; idx and updates are (outer, K, inner)."""
    lanes = _scatter_lanes(geo, lanes or default_lanes())
    dt, K, N, inner = geo.dtype, geo.k, geo.n, geo.inner

    def make_step(b, ptrs, o, k):
        _, idx, upd, out = ptrs
        out_o = _ptr(b, out, dt, b.mul(o, I64(N * inner)))
        first = b.mul(b.add(b.mul(o, I64(K)), k), I64(inner))  # in idx / updates

        def step(j, m):
            i = _load_index(b, idx, geo, b.add(first, j), lanes, m)
            u = _load(b, _ptr(b, upd, dt, first), dt, j, lanes, m)
            if lanes == 1:
                p = _ptr(b, out_o, dt, b.add(b.mul(i, I64(inner)), j))
                loops.store_value(b, _add(b, loops.load_value(b, p, dt, 1), u, dt), p, dt, 1)
                return
            # lanes hold distinct j: distinct addresses, so gather-add-scatter is safe
            offsets = b.add(b.mul(i, splat(b, I64(inner), lanes)),
                            b.add(splat(b, j, lanes), _lane_ids(lanes)))
            m_all = m if m is not None else const(ir.VectorType(ir.IntType(1), lanes), 1)
            total = _add(b, _gather(b, out_o, dt, offsets, lanes, m), u, dt)
            scatter(b, total, out_o, dt, offsets, m_all, lanes)
        return step

    _emit_scatter(module, name, geo, lanes, make_step)


_GATHER_OPS = {"take": emit_take, "take_along_axis": emit_take_along_axis,
               "scatter_add": emit_scatter_add,
               "scatter_add_along_axis": emit_scatter_add_along_axis}

__all__ = ["lower_gather", "emit_take", "emit_take_along_axis", "emit_scatter_add",
           "emit_scatter_add_along_axis", "INDEX_DTYPES"]
