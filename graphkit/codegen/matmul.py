"""GEMM kernels: packed operands, a register-tiled FMA microkernel, fused epilogue.

    spec = emit_matmul(module, "mm0", MatmulShape(m=256, k=784, n=512),
                       epilogue=expr.apply("maximum", expr.apply("add", expr.input(0, "float32"),
                                           expr.input(1, "float32")), expr.constant(0.0, "float32")),
                       epilogue_operands=[Operand((512,), "float32")])      # bias, then relu

Kernel ABI: `void @mm0(ptr args)`, args = [A, B, epilogue operands..., C, workspace], where
workspace points to `spec.workspace_bytes` bytes of scratch (64-byte aligned, contents
ignored; one buffer can serve every matmul kernel of a graph, since kernels run one after
another). C must not alias A, B or the workspace; it may alias a residual epilogue operand
of the same layout (each element is read before it is written).

Shapes: A is (batch..., M, K), B is (batch..., K, N), C is (batch..., M, N), C-contiguous,
unless `a_strides`/`b_strides` (in elements, per dim of A/B) describe views such as
transposes (`transpose_a`/`transpose_b` build those strides). Batch dims broadcast (stride 0).
Epilogue operands broadcast against (batch..., M, N); `input(0)` is the product tile.

Algorithm (BLIS-like, without a K split): each thread owns a range of N panels (or of M
rows when N is narrow), packs its B columns into panels of NR columns (K x NR, contiguous),
then for each block of MC rows packs A into panels of MR rows, and runs the microkernel on
every (A panel, B panel) pair: MR x NR accumulators (8 x 32 floats: 16 zmm registers with
AVX-512) updated by broadcast-A x vector-B fused multiply-adds over the whole K. The
epilogue runs on the accumulators before the (masked, at the edges) store.
"""
import math
from dataclasses import dataclass, field

from llvmlite import ir

from graphkit import dtypes
from graphkit.codegen import expr as ex
from graphkit.codegen import loops, parallel
from graphkit.codegen.elementwise import KernelSpec, Operand, broadcast_strides
from graphkit.codegen.llvm_types import (
    I1, I32, I64, PTR, call_intrinsic, const, memory_type, splat, vector_of)
from graphkit.codegen.mathlib import MathLib
from graphkit.codegen.target import host_target

MR = 8
L2_BLOCK_BYTES = 256 * 1024  # A block (MC x K) target size


@dataclass(frozen=True)
class MatmulShape:
    m: int
    k: int
    n: int
    batch: tuple = ()
    dtype: str = "float32"
    a_strides: tuple = None  # per dim of A (batch..., M, K), in elements
    b_strides: tuple = None  # per dim of B (batch..., K, N)
    a_batch: tuple = None    # A's own batch shape (broadcasts to `batch`); None: same
    b_batch: tuple = None

    def a_shape(self):
        return tuple(self.batch if self.a_batch is None else self.a_batch) + (self.m, self.k)

    def b_shape(self):
        return tuple(self.batch if self.b_batch is None else self.b_batch) + (self.k, self.n)

    def c_shape(self):
        return tuple(self.batch) + (self.m, self.n)


def transpose_a(shape):
    """MatmulShape whose A operand is stored as (batch..., K, M) (A^T in memory)."""
    stored = tuple(shape.batch if shape.a_batch is None else shape.a_batch) + (shape.k, shape.m)
    s = list(Operand(stored, shape.dtype).element_strides())
    s[-1], s[-2] = s[-2], s[-1]
    return _replace(shape, a_strides=tuple(s))


def transpose_b(shape):
    """MatmulShape whose B operand is stored as (batch..., N, K) (B^T in memory)."""
    stored = tuple(shape.batch if shape.b_batch is None else shape.b_batch) + (shape.n, shape.k)
    s = list(Operand(stored, shape.dtype).element_strides())
    s[-1], s[-2] = s[-2], s[-1]
    return _replace(shape, b_strides=tuple(s))


def _replace(shape, **kw):
    from dataclasses import replace
    return replace(shape, **kw)


@dataclass(frozen=True)
class MatmulSpec(KernelSpec):
    workspace_bytes: int = 0
    threads: int = 1
    split: str = "n"
    tile: tuple = field(default=(MR, 32))


def _plan(shape, lanes, threads):
    nr = 2 * lanes
    panels_n = math.ceil(shape.n / nr)
    panels_m = math.ceil(shape.m / MR)
    split = "n" if (panels_n >= 2 * threads or shape.n >= shape.m) else "m"
    itemsize = dtypes.itemsize(shape.dtype)
    mc = max(MR, (L2_BLOCK_BYTES // max(1, shape.k * itemsize)) // MR * MR)
    mc = min(mc, panels_m * MR)
    per_thread_n = math.ceil(panels_n / threads) if split == "n" else panels_n
    b_elems = shape.k * per_thread_n * nr
    a_elems = mc * shape.k
    slot = _round_up((b_elems + a_elems) * itemsize, 64)
    return nr, mc, split, slot, b_elems


def _round_up(x, m):
    return (x + m - 1) // m * m


def emit_matmul(module, name, shape, epilogue=None, epilogue_operands=(), threads=None,
                parallel_ok=None):
    if shape.dtype not in ("float32", "float64"):
        raise ValueError(f"matmul codegen: kernel {name!r} supports float32 and float64, "
                         f"received {shape.dtype}")
    target = host_target()
    lanes = target.lanes(dtypes.itemsize(shape.dtype))
    threads = threads or parallel.num_threads()
    flops = 2 * shape.m * shape.n * shape.k * max(1, math.prod(shape.batch))
    if parallel_ok is None:
        parallel_ok = flops >= 8 * parallel.MIN_PARALLEL_WORK
    if not parallel_ok:
        threads = 1
    nr, mc, split, slot, b_elems = _plan(shape, lanes, threads)
    epilogue = epilogue or ex.input(0, shape.dtype)
    body = _Gemm(shape, lanes, nr, mc, split, threads, slot, b_elems, epilogue,
                 list(epilogue_operands), MathLib(module))
    loops.define_kernel(module, name, body.emit, parallel_ok and threads > 1)
    return MatmulSpec(name, 2 + len(epilogue_operands) + 1, 1, parallel_ok,
                      workspace_bytes=slot * threads, threads=threads, split=split,
                      tile=(MR, nr))


class _Gemm:
    def __init__(self, shape, lanes, nr, mc, split, threads, slot, b_elems, epilogue,
                 epi_operands, mathlib):
        self.s, self.lanes, self.nr, self.mc = shape, lanes, nr, mc
        self.split, self.threads, self.slot, self.b_elems = split, threads, slot, b_elems
        self.epilogue, self.epi_operands, self.math = epilogue, epi_operands, mathlib
        self.ety = memory_type(shape.dtype)
        self.vty = vector_of(self.ety, lanes)
        s = shape
        self.a_str = list(s.a_strides or Operand(s.a_shape(), s.dtype).element_strides())
        self.b_str = list(s.b_strides or Operand(s.b_shape(), s.dtype).element_strides())
        nb = len(s.batch)
        self.a_bstr = broadcast_strides(Operand(s.a_shape()[:-2], s.dtype,
                                                tuple(self.a_str[:-2])), s.batch)
        self.b_bstr = broadcast_strides(Operand(s.b_shape()[:-2], s.dtype,
                                                tuple(self.b_str[:-2])), s.batch)
        self.c_str = list(Operand(s.c_shape(), s.dtype).element_strides())
        self.epi_str = [broadcast_strides(o, s.c_shape()) for o in epi_operands]
        self.nb = nb

    # -- driver --------------------------------------------------------------------------------

    def emit(self, b, args, tid, nth):
        s = self.s
        n_epi = len(self.epi_operands)
        a_ptr = loops.arg_pointer(b, args, 0)
        b_ptr = loops.arg_pointer(b, args, 1)
        epi_ptrs = [loops.arg_pointer(b, args, 2 + i) for i in range(n_epi)]
        c_ptr = loops.arg_pointer(b, args, 2 + n_epi)
        ws = loops.arg_pointer(b, args, 3 + n_epi)
        # never more workers than the workspace has slots for
        nth = b.select(b.icmp_signed(">", nth, I32(self.threads)), I32(self.threads), nth)
        active = b.icmp_signed("<", tid, nth)
        with b.if_then(active):
            slot = b.gep(ws, [b.mul(b.sext(tid, I64), I64(self.slot))], source_etype=ir.IntType(8))
            bp = slot
            ap = b.gep(slot, [I64(self.b_elems)], source_etype=self.ety)
            panels_n = math.ceil(s.n / self.nr)
            panels_m = math.ceil(s.m / MR)
            if self.split == "n":
                p0, p1 = parallel.split_range(b, tid, nth, I64(panels_n))
                m0, m1 = I64(0), I64(s.m)
            else:
                p0, p1 = I64(0), I64(panels_n)
                q0, q1 = parallel.split_range(b, tid, nth, I64(panels_m))
                m0 = b.mul(q0, I64(MR))
                m1 = b.select(b.icmp_signed("<", b.mul(q1, I64(MR)), I64(s.m)),
                              b.mul(q1, I64(MR)), I64(s.m))
            with loops.for_range(b, 0, max(1, math.prod(s.batch)), name="batch") as bi:
                bidx = self._batch_index(b, bi)
                a_b = loops.element_ptr(b, a_ptr, s.dtype, self._off(b, bidx, self.a_bstr))
                b_b = loops.element_ptr(b, b_ptr, s.dtype, self._off(b, bidx, self.b_bstr))
                c_b = loops.element_ptr(b, c_ptr, s.dtype,
                                        self._off(b, bidx, self.c_str[:self.nb]))
                e_b = [loops.element_ptr(b, p, o.dtype, self._off(b, bidx, st[:self.nb]))
                       for p, o, st in zip(epi_ptrs, self.epi_operands, self.epi_str)]
                self._pack_b(b, b_b, bp, p0, p1)
                with loops.for_range(b, m0, m1, self.mc, name="ic") as ic:
                    rows = b.sub(m1, ic)
                    rows = b.select(b.icmp_signed("<", rows, I64(self.mc)), rows, I64(self.mc))
                    self._pack_a(b, a_b, ap, ic, rows)
                    n_ap = b.udiv(b.add(rows, I64(MR - 1)), I64(MR))
                    with loops.for_range(b, p0, p1, name="jr") as jr:
                        with loops.for_range(b, 0, n_ap, name="ir") as ir_:
                            self._micro(b, ap, bp, ic, ir_, jr, p0, rows, c_b, e_b)

    def _batch_index(self, b, flat):
        from graphkit.codegen.reduction import _decompose
        return _decompose(b, flat, list(self.s.batch)) if self.s.batch else []

    @staticmethod
    def _off(b, idx, strides):
        off = I64(0)
        for i, st in zip(idx, strides):
            if st:
                off = b.add(off, b.mul(i, I64(st)))
        return off

    # -- packing -------------------------------------------------------------------------------

    def _pack_b(self, b, src, bp, p0, p1):
        """Bp[(p - p0)][k][0:NR] = B[k, p*NR : p*NR+NR] (zeros past N)."""
        s, nr = self.s, self.nr
        sk, sn = self.b_str[-2], self.b_str[-1]
        with loops.for_range(b, p0, p1, name="pb") as p:
            col0 = b.mul(p, I64(nr))
            ncols = b.sub(I64(s.n), col0)
            dst_panel = b.gep(bp, [b.mul(b.sub(p, p0), I64(s.k * nr))], source_etype=self.ety)
            full = b.icmp_signed(">=", ncols, I64(nr))
            with loops.for_range(b, 0, s.k, name="kb") as k:
                row = loops.element_ptr(b, src, s.dtype,
                                        b.add(b.mul(k, I64(sk)), b.mul(col0, I64(sn))))
                dst = b.gep(dst_panel, [b.mul(k, I64(nr))], source_etype=self.ety)
                for h in range(nr // self.lanes):
                    lane0 = h * self.lanes
                    remaining = b.sub(ncols, I64(lane0))
                    mask = loops.lane_mask(b, remaining, self.lanes)
                    if sn == 1:
                        p_src = b.gep(row, [I64(lane0)], source_etype=self.ety)
                        v = self._load_masked_or_full(b, p_src, full, mask)
                    else:
                        idx = b.mul(b.add(splat(b, I64(lane0), self.lanes),
                                          _iota64(self.lanes)), splat(b, I64(sn), self.lanes))
                        v = loops.gather(b, row, s.dtype, idx, mask, self.lanes)
                        v = b.select(mask, v, const(self.vty, 0.0))
                    b.store(v, b.gep(dst, [I64(lane0)], source_etype=self.ety), align=64)

    def _load_masked_or_full(self, b, ptr, full, mask):
        """A full vector load in the common case; a masked one (zero-filled) at the N edge."""
        m = b.select(full, const(mask.type, 1), mask)
        mty = self.vty
        fn = loops.intrinsic(b.module, f"llvm.masked.load.{loops.type_suffix(mty)}.p0", mty,
                             [PTR, I32, m.type, mty])
        return b.call(fn, [ptr, I32(1), m, const(mty, 0.0)])

    def _pack_a(self, b, src, ap, ic, rows):
        """Ap[panel][k][0:MR] = A[ic + panel*MR + r, k] (zeros past the block's rows)."""
        s = self.s
        sm, sk = self.a_str[-2], self.a_str[-1]
        n_panels = b.udiv(b.add(rows, I64(MR - 1)), I64(MR))
        with loops.for_range(b, 0, n_panels, name="pa") as p:
            dst_panel = b.gep(ap, [b.mul(p, I64(s.k * MR))], source_etype=self.ety)
            for r in range(MR):
                row = b.add(b.mul(p, I64(MR)), I64(r))
                valid = b.icmp_signed("<", row, rows)
                src_row = loops.element_ptr(b, src, s.dtype, b.mul(b.add(ic, row), I64(sm)))
                with b.if_else(valid) as (then, otherwise):
                    with then:
                        with loops.for_range(b, 0, s.k, name=f"ka{r}") as k:
                            v = b.load(loops.element_ptr(b, src_row, s.dtype,
                                                         b.mul(k, I64(sk))), typ=self.ety)
                            b.store(v, b.gep(dst_panel, [b.add(b.mul(k, I64(MR)), I64(r))],
                                             source_etype=self.ety))
                    with otherwise:
                        with loops.for_range(b, 0, s.k, name=f"kz{r}") as k:
                            b.store(const(self.ety, 0.0),
                                    b.gep(dst_panel, [b.add(b.mul(k, I64(MR)), I64(r))],
                                          source_etype=self.ety))

    # -- microkernel ---------------------------------------------------------------------------

    def _micro(self, b, ap, bp, ic, ir_, jr, p0, rows, c_b, e_b):
        s, lanes, nr = self.s, self.lanes, self.nr
        nv = nr // lanes
        a_panel = b.gep(ap, [b.mul(ir_, I64(s.k * MR))], source_etype=self.ety)
        b_panel = b.gep(bp, [b.mul(b.sub(jr, p0), I64(s.k * nr))], source_etype=self.ety)
        slots = [[loops._entry_alloca(b, self.vty, f"acc{r}_{v}") for v in range(nv)]
                 for r in range(MR)]
        for r in range(MR):
            for v in range(nv):
                b.store(const(self.vty, 0.0), slots[r][v])
        with loops.for_range(b, 0, s.k, name="kk") as k:
            bvec = [b.load(b.gep(b_panel, [b.add(b.mul(k, I64(nr)), I64(v * lanes))],
                                 source_etype=self.ety), typ=self.vty, align=64)
                    for v in range(nv)]
            a_row = b.gep(a_panel, [b.mul(k, I64(MR))], source_etype=self.ety)
            for r in range(MR):
                a = splat(b, b.load(b.gep(a_row, [I64(r)], source_etype=self.ety),
                                    typ=self.ety), lanes)
                for v in range(nv):
                    acc = b.load(slots[r][v], typ=self.vty)
                    b.store(call_intrinsic(b, "fma", a, bvec[v], acc), slots[r][v])
        # epilogue + store
        row0 = b.add(ic, b.mul(ir_, I64(MR)))
        col0 = b.mul(jr, I64(nr))
        ncols = b.sub(I64(s.n), col0)
        for r in range(MR):
            row = b.add(row0, I64(r))
            with b.if_then(b.icmp_signed("<", b.sub(row, ic), rows)):
                for v in range(nv):
                    lane0 = b.add(col0, I64(v * lanes))
                    remaining = b.sub(ncols, I64(v * lanes))
                    with b.if_then(b.icmp_signed(">", remaining, I64(0))):
                        mask = loops.lane_mask(b, remaining, lanes)
                        full = b.icmp_signed(">=", remaining, I64(lanes))
                        acc = b.load(slots[r][v], typ=self.vty)
                        self._store_tile(b, acc, row, lane0, mask, full, c_b, e_b)

    def _store_tile(self, b, acc, row, col, mask, full, c_b, e_b):
        s, lanes = self.s, self.lanes
        m = b.select(full, const(mask.type, 1), mask)

        def load(i):
            if i == 0:
                return acc
            k = i - 1
            o, st = self.epi_operands[k], self.epi_str[k]
            base = loops.element_ptr(b, e_b[k], o.dtype,
                                     b.add(b.mul(row, I64(st[-2])), b.mul(col, I64(st[-1]))))
            if st[-1] == 0:
                return splat(b, loops.load_value(b, base, o.dtype, 1), lanes)
            if st[-1] == 1:
                return loops.masked_load(b, base, o.dtype, m, lanes)
            idx = b.mul(_iota64(lanes), splat(b, I64(st[-1]), lanes))
            return loops.gather(b, base, o.dtype, idx, m, lanes)

        val = ex.Lowerer(b, lanes, load, self.math).emit(self.epilogue)
        dst = loops.element_ptr(b, c_b, self.epilogue.dtype,
                                b.add(b.mul(row, I64(s.n)), col))
        loops.masked_store(b, val, dst, self.epilogue.dtype, m, lanes)


def _iota64(lanes):
    from graphkit.codegen.llvm_types import iota
    return iota(ir.VectorType(I64, lanes))


__all__ = ["MatmulShape", "MatmulSpec", "emit_matmul", "transpose_a", "transpose_b", "MR",
           "I1"]
