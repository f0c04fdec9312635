"""Layout kernels (transpose, slice, pad, concatenate, broadcast_to, reshape) and creation
kernels (full, full_like, arange) as native code.

Every layout primitive is one or more *strided copies*: walk an index space `shape`, read
the source at `src.offset + sum(i_k * src.strides[k])` and write the destination at the
same expression over `dst` (strides in elements, possibly negative or zero):

    transpose     source strides permuted, destination contiguous
    slice         source strides times the steps, offset at the starts
    broadcast_to  source stride 0 on broadcast dims
    pad           fill the output with the value, then copy the operand into the interior
                  (destination strides times interior + 1, offset at the low pads)
    concatenate   one copy per operand into its slab of the output

`emit_strided_copy` drops size-1 dims and merges dims that are contiguous on both sides,
then runs the last dim `lanes` at a time: contiguous sides are vector loads/stores, stride
0 is one load splatted, other strides are gathers/scatters. Big copies split their rows
(or, with one row, the inner range) across the thread pool. Copies move raw bytes, so
bool (one byte in memory) is copied as uint8.

Creation kernels write a constant (`emit_elementwise` with no operands) or NumPy's arange
values: `np.arange` stores start and start + step, then fills `out[i] = out[0] + i * d`
with `d = out[1] - out[0]`, all in the output dtype; the kernel computes the same.
"""
import math
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from graphkit import dtypes
from graphkit.codegen import expr as ex
from graphkit.codegen import loops, parallel
from graphkit.codegen.elementwise import (
    broadcast_strides, collapse, contiguous_strides, default_lanes, emit_elementwise, Operand)
from graphkit.codegen.llvm_types import (
    I32, I64, PTR, VOID, const, intrinsic, iota, memory_type, splat, type_suffix, vector_of)
from graphkit.codegen.lower_kernel import SubKernel, Unsupported

COPY_DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
               "uint64", "float16", "float32", "float64")
ARANGE_DTYPES = ("int32", "int64", "float32", "float64")


@dataclass(frozen=True)
class View:
    """Where a copy reads or writes: element strides per dim of the copy, and an offset."""
    strides: tuple
    offset: int = 0


def contiguous_view(shape):
    return View(tuple(contiguous_strides(tuple(shape))), 0)


# -- the strided copy --------------------------------------------------------------------

def emit_strided_copy(module, name, shape, dtype, src, dst, lanes=None, parallel_ok=None):
    """Emit `void @name(ptr args)`, args = [source, destination], copying `shape` elements
    of `dtype` from view `src` to view `dst` (see the module docstring)."""
    if dtype not in COPY_DTYPES:
        raise ValueError(f"strided copy: unsupported dtype {dtype!r}")
    shape = tuple(int(d) for d in shape)
    if len(src.strides) != len(shape) or len(dst.strides) != len(shape):
        raise ValueError(f"strided copy {name!r}: strides {src.strides} and {dst.strides} "
                         f"do not match the shape {shape}")
    mem_dtype = "uint8" if dtype == "bool" else dtype
    lanes = lanes or default_lanes()
    dims, (src_st, dst_st) = collapse(shape, [list(src.strides), list(dst.strides)])
    total = math.prod(shape)
    if parallel_ok is None:
        parallel_ok = 2 * total * dtypes.itemsize(mem_dtype) >= parallel.MIN_PARALLEL_WORK
    body = _CopyBody(dims, src_st, dst_st, src.offset, dst.offset, mem_dtype, lanes)
    loops.define_kernel(module, name, body.emit, parallel_ok and total > lanes)
    return name


class _CopyBody:
    """Loops: outer rows (index decomposed once per row block), a middle loop over the
    second-to-last dim (pointers stepped, no division), the last dim in vectors."""

    def __init__(self, dims, src_strides, dst_strides, src_offset, dst_offset, dtype, lanes):
        if len(dims) == 1:  # a single dim: one middle step of one row
            dims, src_strides, dst_strides = [1] + dims, [0] + src_strides, [0] + dst_strides
        self.dims, self.dtype, self.lanes = dims, dtype, lanes
        self.strides = (src_strides, dst_strides)
        self.offsets = (src_offset, dst_offset)

    def emit(self, b, args, tid, nth):
        ptrs = [loops.arg_pointer(b, args, k) for k in range(2)]
        mid, inner = self.dims[-2], self.dims[-1]
        rows = math.prod(self.dims[:-1])
        rb, re, jb, je = loops.split_rows(b, tid, nth, rows, inner, self.lanes)
        # this thread's rows [rb, re) as blocks q of `mid` rows, each cut to the range
        qb, qe = b.udiv(rb, I64(mid)), b.udiv(b.add(re, I64(mid - 1)), I64(mid))
        with loops.for_range(b, qb, qe, name="block") as q:
            first = b.mul(q, I64(mid))
            tb = b.sub(rb, first)
            tb = b.select(b.icmp_signed("<", tb, I64(0)), I64(0), tb)
            te = b.sub(re, first)
            te = b.select(b.icmp_signed(">", te, I64(mid)), I64(mid), te)
            src0, dst0 = self._block_bases(b, ptrs, q)
            with loops.for_range(b, tb, te, name="row") as t:
                src = loops.element_ptr(b, src0, self.dtype,
                                        b.mul(t, I64(self.strides[0][-2])))
                dst = loops.element_ptr(b, dst0, self.dtype,
                                        b.mul(t, I64(self.strides[1][-2])))
                loops.vector_loop(b, jb, je, self.lanes,
                                  lambda j, mask: self._step(b, src, dst, j, mask))

    def _block_bases(self, b, ptrs, q):
        """Source and destination pointers to the first element of row block q."""
        offsets = loops.strided_offsets(b, q, self.dims[:-2], self.strides, self.offsets)
        return [loops.element_ptr(b, p, self.dtype, off) for p, off in zip(ptrs, offsets)]

    def _step(self, b, src, dst, j, mask):
        lanes, dt = self.lanes, self.dtype
        s, d = self.strides[0][-1], self.strides[1][-1]
        if s == 0:
            v = splat(b, loops.load_value(b, src, dt, 1), lanes)
        elif s == 1 and mask is None:
            v = loops.load_value(b, loops.element_ptr(b, src, dt, j), dt, lanes)
        elif s == 1:
            v = loops.masked_load(b, loops.element_ptr(b, src, dt, j), dt, mask, lanes)
        else:
            v = loops.gather(b, src, dt, _lane_offsets(b, j, s, lanes), _all(mask, lanes),
                             lanes)
        if d == 1 and mask is None:
            loops.store_value(b, v, loops.element_ptr(b, dst, dt, j), dt, lanes)
        elif d == 1:
            loops.masked_store(b, v, loops.element_ptr(b, dst, dt, j), dt, mask, lanes)
        else:
            scatter(b, v, dst, dt, _lane_offsets(b, j, d, lanes), _all(mask, lanes), lanes)


def _lane_offsets(b, j, stride, lanes):
    """<(j + k) * stride for k in lanes> (i64)."""
    return b.mul(b.add(splat(b, j, lanes), iota(ir.VectorType(I64, lanes))),
                 splat(b, I64(stride), lanes))


def _all(mask, lanes):
    return mask if mask is not None else const(ir.VectorType(ir.IntType(1), lanes), 1)


def scatter(builder, value, base, dtype, index_vec, mask, lanes):
    """Store lane k of `value` (memory representation) at base[index_vec[k]] where mask."""
    b = builder
    pty = ir.VectorType(PTR, lanes)
    base_int = splat(b, b.ptrtoint(base, I64), lanes)
    offsets = b.mul(index_vec, const(index_vec.type, dtypes.itemsize(dtype)))
    ptrs = b.inttoptr(b.add(base_int, offsets), pty)
    value = loops.to_memory(b, value, dtype, lanes)
    fn = intrinsic(b.module, f"llvm.masked.scatter.{type_suffix(value.type)}.v{lanes}p0",
                   VOID, [value.type, pty, I32, mask.type])
    b.call(fn, [value, ptrs, I32(1), mask])


# -- layout kernels ------------------------------------------------------------------------

def lower_layout(module, node, info, lowering):
    """Append the sub-kernels of a layout kernel (one op) to `lowering`."""
    op_node = info.body.nodes[0]
    if len(info.body.nodes) != 1:
        raise Unsupported(f"kernel {info.name} (layout): expected one op, found "
                          f"{info.members}")
    dtype = op_node.outputs[0].type.dtype
    if dtype not in COPY_DTYPES:
        raise Unsupported(f"kernel {info.name} (layout): '{op_node.op}' on dtype {dtype} "
                          "has no native lowering")
    lower = _LAYOUT_OPS.get(op_node.op)
    if lower is None:
        raise Unsupported(f"kernel {info.name} (layout): op '{op_node.op}' has no native "
                          f"lowering; supported: {', '.join(sorted(_LAYOUT_OPS))}")
    lower(module, info, op_node, _Copies(module, info, lowering, dtype))


class _Copies:
    """Emits the copies of one layout kernel as sub-kernels reading kernel operands."""

    def __init__(self, module, info, lowering, dtype):
        self.module, self.info, self.lowering, self.dtype = module, info, lowering, dtype
        self.out = info.node.outputs[0]

    def operand(self, body_value):
        return self.info.node.operands[self.info.body.params.index(body_value)]

    def copy(self, body_value, shape, src, dst):
        if math.prod(shape) == 0:
            return
        name = self._name()
        emit_strided_copy(self.module, name, shape, self.dtype, src, dst)
        self.lowering.subkernels.append(SubKernel(
            name, [("value", self.operand(body_value)), ("value", self.out)]))

    def fill(self, value):
        name = self._name()
        emit_elementwise(self.module, name, [], [ex.constant(value, self.dtype)],
                         tuple(self.out.type.shape))
        self.lowering.subkernels.append(SubKernel(name, [("value", self.out)]))

    def _name(self):
        return f"{self.info.name}_{len(self.lowering.subkernels)}"


def _shape(value):
    return tuple(value.type.shape)


def _transpose(module, info, n, copies):
    x, perm = n.operands[0], tuple(n.attrs["perm"])
    xs = contiguous_strides(_shape(x))
    out_shape = _shape(n.outputs[0])
    copies.copy(x, out_shape, View(tuple(xs[p] for p in perm)), contiguous_view(out_shape))


def _slice(module, info, n, copies):
    x = n.operands[0]
    x_shape, xs = _shape(x), contiguous_strides(_shape(x))
    strides, offset, out_shape = [], 0, []
    for d, s, (start, stop, step) in zip(x_shape, xs, n.attrs["index"]):
        start, stop, step = slice(start, stop, step).indices(d)
        out_shape.append(len(range(start, stop, step)))
        strides.append(s * step)
        offset += start * s
    if tuple(out_shape) != _shape(n.outputs[0]):
        raise Unsupported(f"kernel {info.name} (slice): index {n.attrs['index']} gives "
                          f"shape {tuple(out_shape)}, the graph says {_shape(n.outputs[0])}")
    copies.copy(x, tuple(out_shape), View(tuple(strides), offset), contiguous_view(out_shape))


def _broadcast_to(module, info, n, copies):
    x = n.operands[0]
    out_shape = _shape(n.outputs[0])
    src = broadcast_strides(Operand(_shape(x), copies.dtype), out_shape)
    copies.copy(x, out_shape, View(tuple(src)), contiguous_view(out_shape))


def _reshape(module, info, n, copies):
    out_shape = _shape(n.outputs[0])
    copies.copy(n.operands[0], out_shape, contiguous_view(out_shape),
                contiguous_view(out_shape))


def _pad(module, info, n, copies):
    x, pads, value = n.operands[0], n.attrs["pads"], n.attrs["value"]
    out_st = contiguous_strides(_shape(n.outputs[0]))
    dst_strides = tuple(s * (interior + 1) for s, (lo, hi, interior) in zip(out_st, pads))
    offset = sum(lo * s for s, (lo, hi, interior) in zip(out_st, pads))
    copies.fill(value)
    copies.copy(x, _shape(x), contiguous_view(_shape(x)), View(dst_strides, offset))


def _concatenate(module, info, n, copies):
    axis = n.attrs["axis"]
    out_st = contiguous_strides(_shape(n.outputs[0]))
    start = 0
    for x in n.operands:
        shape = _shape(x)
        copies.copy(x, shape, contiguous_view(shape), View(out_st, start * out_st[axis]))
        start += shape[axis]


_LAYOUT_OPS = {"transpose": _transpose, "slice": _slice, "broadcast_to": _broadcast_to,
               "reshape": _reshape, "pad": _pad, "concatenate": _concatenate}


# -- creation kernels ----------------------------------------------------------------------

def lower_creation(module, node, info, lowering):
    """Append the sub-kernel of a creation kernel (full, full_like, arange)."""
    n = info.body.nodes[0]
    out = node.outputs[0]
    dtype, shape = out.type.dtype, tuple(out.type.shape)
    name = f"{info.name}_{len(lowering.subkernels)}"
    if len(info.body.nodes) != 1:
        raise Unsupported(f"kernel {info.name} (creation): expected one op, found "
                          f"{info.members}")
    if n.op in ("full", "full_like"):
        if dtype not in COPY_DTYPES:
            raise Unsupported(f"kernel {info.name} ({n.op}): dtype {dtype} has no native "
                              "lowering")
        emit_elementwise(module, name, [], [ex.constant(n.attrs["value"], dtype)], shape)
    elif n.op == "arange":
        if dtype not in ARANGE_DTYPES:
            raise Unsupported(f"kernel {info.name} (arange): dtype {dtype} has no native "
                              f"lowering; supported: {', '.join(ARANGE_DTYPES)}")
        a = n.attrs
        emit_arange(module, name, np.arange(a["start"], a["stop"], a["step"], dtype=dtype)[:2],
                    shape[0])
    else:
        raise Unsupported(f"kernel {info.name} (creation): op '{n.op}' has no native "
                          "lowering; supported: full, full_like, arange")
    lowering.subkernels.append(SubKernel(name, [("value", out)]))


def emit_arange(module, name, first_two, length, lanes=None):
    """`void @name(ptr args)`, args = [out]: NumPy's arange fill from its first two values
    (`first_two`, a NumPy array of the output dtype)."""
    dtype = first_two.dtype.name
    lanes = lanes or default_lanes()
    start = first_two[0]
    second = first_two[1] if len(first_two) > 1 else start
    delta = second - start  # in the output dtype, as NumPy's fill computes it

    def body(b, args, tid, nth):
        out = loops.arg_pointer(b, args, 0)
        ty = vector_of(memory_type(dtype), lanes)
        is_float = dtype.startswith("float")
        v0, v1, d = (const(ty, float(v) if is_float else int(v)) for v in (start, second, delta))
        lane_ids = iota(ir.VectorType(I64, lanes))
        jb, je = parallel.split_range(b, tid, nth, I64(length), align=lanes)

        def step(j, mask):
            i = b.add(splat(b, j, lanes), lane_ids)
            fi = b.sitofp(i, ty) if is_float else b.trunc(i, ty) if dtype == "int32" else i
            v = b.fadd(v0, b.fmul(fi, d)) if is_float else b.add(v0, b.mul(fi, d))
            v = b.select(b.icmp_signed("==", i, const(i.type, 1)), v1, v)
            p = loops.element_ptr(b, out, dtype, j)
            if mask is None:
                loops.store_value(b, v, p, dtype, lanes)
            else:
                loops.masked_store(b, v, p, dtype, mask, lanes)

        loops.vector_loop(b, jb, je, lanes, step)

    big = length * dtypes.itemsize(dtype) >= parallel.MIN_PARALLEL_WORK
    loops.define_kernel(module, name, body, big and length > lanes)
    return name


__all__ = ["View", "contiguous_view", "emit_strided_copy", "scatter", "lower_layout",
           "lower_creation", "emit_arange"]
