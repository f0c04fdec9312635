"""Elementwise kernels: a loop nest over the output index space, vectorized inside.

    spec = emit_elementwise(module, "k0", operands=[Operand((512, 768), "float32"),
                                                   Operand((768,), "float32")],
                            outputs=[expr.apply("add", expr.input(0, "float32"),
                                                expr.input(1, "float32"))],
                            out_shape=(512, 768))

The kernel is `void @k0(ptr args)`, args = [operand pointers..., output pointers...].
Operands broadcast against `out_shape` as in NumPy (right-aligned; size-1 or missing dims get
stride 0). An operand may also be a strided view (`strides` in elements, e.g. a transpose).
Outputs are C-contiguous with `out_shape`; an output may share its buffer with an operand of
the same shape and layout (each element is read before it is written).

Loop structure: dims that are contiguous for every operand are merged first; the outer dims
become one "row" loop; the innermost dim runs `lanes` elements at a time (contiguous operands:
vector loads, broadcast ones: one load splatted, other strides: gathers) and a masked vector
step for the remainder. Big kernels split rows (or, with one row, the inner range) across the
thread pool. Kernels whose outputs are much bigger than the cache write them with streaming
(non-temporal) stores (see `STREAM_MIN_BYTES`).
"""
import math
from dataclasses import dataclass

from graphkit import dtypes
from graphkit.codegen import expr as ex
from graphkit.codegen import loops, parallel
from graphkit.codegen.llvm_types import I64, iota, splat
from graphkit.codegen.mathlib import MathLib
from graphkit.codegen.target import host_target
from llvmlite import ir


# Kernels whose outputs total more than this many bytes write full vectors with non-temporal
# stores. Why: a normal store first reads the line it writes (write-allocate), so a kernel
# that reads two arrays and writes one moves 4/3 of its bytes; a streaming store writes the
# line without reading it, and does not evict the inputs either. Measured on 2048x2048
# float32, two threads: x + y 0.77 -> 0.61 ms, exp(x) + y 0.80 -> 0.63 ms; W2 (tanh, sigmoid)
# is compute-bound and unchanged on Zen 4, 6% slower on Zen 3 (2.48 -> 2.64 ms): a kernel
# with a transcendental or a division (`expr.is_heavy`) stores normally. Why only big
# outputs: a streamed output is in memory, not in the cache, when the next kernel reads it;
# one this big (with the kernel's inputs) is mostly evicted by then anyway.
STREAM_MIN_BYTES = 8 << 20
# ... and only when a row holds at least this many vectors: each row peels to alignment and
# ends in a masked step (normal stores), and a partial line written by streaming stores
# costs more than a cached one.
STREAM_MIN_ROW_VECTORS = 8


@dataclass(frozen=True)
class Operand:
    shape: tuple
    dtype: str
    strides: tuple = None  # in elements; None: C-contiguous

    def element_strides(self):
        if self.strides is not None:
            return tuple(self.strides)
        out, acc = [], 1
        for d in reversed(self.shape):
            out.append(acc)
            acc *= d
        return tuple(reversed(out))


@dataclass(frozen=True)
class KernelSpec:
    name: str
    n_inputs: int
    n_outputs: int
    parallel: bool


def contiguous_strides(shape):
    return Operand(tuple(shape), "float32").element_strides()


def broadcast_strides(operand, out_shape):
    """Strides of `operand` over `out_shape` (0 on broadcast dims); checks compatibility."""
    shape, strides = tuple(operand.shape), operand.element_strides()
    if len(shape) > len(out_shape):
        raise ValueError(f"elementwise codegen: operand of shape {shape} has more dims than "
                         f"the output shape {tuple(out_shape)}")
    lead = len(out_shape) - len(shape)
    out = [0] * lead
    for d, s, o in zip(shape, strides, out_shape[lead:]):
        if d == o:
            out.append(s if o != 1 else 0)
        elif d == 1:
            out.append(0)
        else:
            raise ValueError(f"elementwise codegen: operand shape {shape} does not broadcast "
                             f"to the output shape {tuple(out_shape)}")
    return out


def collapse(out_shape, stride_lists):
    """Drop size-1 dims and merge dims that are contiguous for every stride list."""
    dims = [(d, [s[i] for s in stride_lists]) for i, d in enumerate(out_shape) if d != 1]
    if not dims:
        return [1], [[0] for _ in stride_lists]
    merged = [dims[0]]
    for d, strides in dims[1:]:
        pd, pstrides = merged[-1]
        if all(ps == s * d for ps, s in zip(pstrides, strides)):
            merged[-1] = (pd * d, strides)
        else:
            merged.append((d, strides))
    shape = [d for d, _ in merged]
    per_operand = [[st[k] for _, st in merged] for k in range(len(stride_lists))]
    return shape, per_operand


def default_lanes():
    return host_target().lanes(4)


def emit_elementwise(module, name, operands, outputs, out_shape, lanes=None,
                     parallel_ok=None):
    """Emit kernel `name` computing each Expr of `outputs` over `out_shape`."""
    out_shape = tuple(int(d) for d in out_shape)
    operands = list(operands)
    outputs = list(outputs)
    for e in outputs:
        for i in e.inputs():
            if not 0 <= i < len(operands):
                raise ValueError(f"elementwise codegen: kernel {name!r} reads input {i} but "
                                 f"has {len(operands)} operand(s)")
    lanes = lanes or default_lanes()
    out_strides = contiguous_strides(out_shape)
    strides = [broadcast_strides(op, out_shape) for op in operands]
    strides += [list(out_strides)] * len(outputs)
    shape, strides = collapse(out_shape, strides)
    total = math.prod(out_shape)
    work = total * (len(operands) + len(outputs)) * 4
    if parallel_ok is None:
        parallel_ok = work >= parallel.MIN_PARALLEL_WORK
    dts = [op.dtype for op in operands] + [e.dtype for e in outputs]
    stream = _streams(shape[-1], total, outputs, lanes)
    body = _Body(shape, strides, dts, len(operands), outputs, lanes, MathLib(module), stream)
    loops.define_kernel(module, name, body.emit, parallel_ok and total > lanes)
    return KernelSpec(name, len(operands), len(outputs), parallel_ok)


def _streams(inner, total, outputs, lanes):
    """Whether a kernel writes its outputs with streaming stores (see STREAM_MIN_BYTES):
    big, memory-bound outputs, x86-64 only (the fence after them is an SSE instruction)."""
    out_bytes = total * sum(dtypes.itemsize(e.dtype) for e in outputs)
    return (lanes > 1 and out_bytes > STREAM_MIN_BYTES
            and inner >= STREAM_MIN_ROW_VECTORS * lanes and not ex.is_heavy(outputs)
            and host_target().triple.startswith("x86_64"))


class _Body:
    def __init__(self, shape, strides, dts, n_in, outputs, lanes, mathlib, stream=False):
        self.shape, self.strides, self.dts = shape, strides, dts
        self.n_in, self.outputs, self.lanes, self.math = n_in, outputs, lanes, mathlib
        self.stream = stream

    def emit(self, b, args, tid, nth):
        ptrs = [loops.arg_pointer(b, args, k) for k in range(len(self.dts))]
        rows = math.prod(self.shape[:-1])
        inner = self.shape[-1]
        rb, re, jb, je = loops.split_rows(b, tid, nth, rows, inner, self.lanes)
        with loops.for_range(b, rb, re, name="row") as r:
            bases = self._row_bases(b, ptrs, r)
            self._inner(b, bases, jb, je)
        if self.stream:
            # streaming stores are weakly ordered: fence them before the task returns (and
            # the pool, or the caller, reads the outputs)
            loops.store_fence(b)

    def _row_bases(self, b, ptrs, r):
        """Per-operand pointer to the first element of row r (outer index decomposed)."""
        offsets = loops.strided_offsets(b, r, self.shape[:-1], self.strides)
        return [loops.element_ptr(b, p, dt, off)
                for p, dt, off in zip(ptrs, self.dts, offsets)]

    def _inner(self, b, bases, jb, je):
        if not self.stream:
            loops.vector_loop(b, jb, je, self.lanes,
                              lambda j, mask: self._step(b, bases, j, mask))
            return
        outs = [(bases[self.n_in + k], e.dtype) for k, e in enumerate(self.outputs)]
        ins = [(bases[i], self.dts[i]) for i in range(self.n_in) if self.strides[i][-1] == 1]
        loops.aligned_vector_loop(b, jb, je, self.lanes, outs, ins,
                                  lambda j, mask, streaming: self._step(b, bases, j, mask,
                                                                        streaming))

    def _step(self, b, bases, j, mask, streaming=None):
        """One vector step at j (`mask`: a partial one); `streaming`: an i1 per output, true
        where its full-vector store may be non-temporal (see loops.aligned_vector_loop)."""
        lanes = self.lanes
        inner_stride = [st[-1] for st in self.strides]

        def load(i):
            dt, s, base = self.dts[i], inner_stride[i], bases[i]
            if s == 0:
                v = loops.load_value(b, base, dt, 1)
                return splat(b, v, lanes)
            if s == 1:
                p = loops.element_ptr(b, base, dt, j)
                if mask is None:
                    return loops.load_value(b, p, dt, lanes)
                return loops.masked_load(b, p, dt, mask, lanes)
            idx = b.mul(b.add(splat(b, j, lanes), iota(ir.VectorType(I64, lanes))),
                        splat(b, I64(s), lanes))
            m = mask if mask is not None else ir.Constant(ir.VectorType(ir.IntType(1), lanes),
                                                          [1] * lanes)
            return loops.gather(b, base, dt, idx, m, lanes)

        lw = ex.Lowerer(b, lanes, load, self.math)
        # Every output is computed before any is stored: an output may share its buffer
        # with an operand (in place), which a later output may still have to read.
        values = [lw.emit(e) for e in self.outputs]
        for k, (e, v) in enumerate(zip(self.outputs, values)):
            slot = self.n_in + k
            p = loops.element_ptr(b, bases[slot], e.dtype, j)
            if mask is None:
                loops.store_value(b, v, p, e.dtype, lanes,
                                  False if streaming is None else streaming[k])
            else:
                loops.masked_store(b, v, p, e.dtype, mask, lanes)


__all__ = ["Operand", "KernelSpec", "emit_elementwise", "broadcast_strides", "collapse",
           "dtypes"]
