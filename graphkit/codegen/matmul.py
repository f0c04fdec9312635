"""GEMM kernels: packed operands, a register-tiled FMA microkernel, fused epilogue.

    spec = emit_matmul(module, "mm0", MatmulShape(m=256, k=784, n=512),
                       epilogue=expr.apply("maximum", expr.apply("add", expr.input(0, "float32"),
                                           expr.input(1, "float32")), expr.constant(0.0, "float32")),
                       epilogue_operands=[Operand((512,), "float32")])      # bias, then relu

Kernel ABI: `void @mm0(ptr args)`, args = [A, B, epilogue operands..., C..., workspace], where
workspace points to `spec.workspace_bytes` bytes of scratch (64-byte aligned, contents
ignored; one buffer can serve every matmul kernel of a graph, since kernels run one after
another). C must not alias A, B or the workspace; it may alias a residual epilogue operand
of the same layout (each element is read before it is written).

Shapes: A is (batch..., M, K), B is (batch..., K, N), C is (batch..., M, N), C-contiguous,
unless `a_strides`/`b_strides` (in elements, per dim of A/B) describe views such as
transposes (`transpose_a`/`transpose_b` build those strides). Batch dims broadcast (stride 0).
Epilogue operands broadcast against (batch..., M, N); `input(0)` is the product tile.
`epilogue` may be a list of Exprs: one output C per Expr (each of shape (batch..., M, N),
of the Expr's dtype), all computed from the tile while it is in registers; every operand
element of a tile is read before any output element of it is written, so outputs may alias
operands of the same layout (in-place optimizer updates).

Algorithm (BLIS-like, without a K split): the threads claim units of N panels from a
counter in the workspace (that the kernel's entry zeroes) until none is left, so that a
thread the scheduler runs late takes fewer (or each thread owns a range of M rows when N
is narrow). A thread packs its B columns into panels of NR columns (K x NR, contiguous), a
block of panels at a time when all of them would not fit L2; then for each block of MC
rows it runs the microkernel on every (A panel, B panel) pair: MR x NR accumulators
(`tile_rows`: 8 x 32 floats in 16 of AVX-512's 32 zmm registers, 6 x 16 in 12 of AVX2's 16
ymm; twice the rows when N fits one vector; M x NR when M < MR) updated by broadcast-A x
vector-B fused multiply-adds over the whole K. When the epilogue reads operands of C's
full shape (an optimizer update) and B fits L2, C is walked a row of tiles at a time, each
thread a range of rows (`rows_first`): the tiles park their products in a row scratch, and
the epilogue then runs along the MR full rows, so that the update's operands stream
sequentially. A is read in place when its rows are K-contiguous (else packed into MR-row
panels per row block; read in place too when its rows are M-contiguous, i.e. a transposed
A), and B too when A is a single tile tall or B a single vector wide (see `_Tiling`). A
block of B panels is packed by a pass of its own before its tiles run; a row-major B a row
at a time (`_Gemm._pack_b_row_major`). The epilogue runs on the accumulators before the
(masked, at the edges) store: a whole tile stores straight from the registers when its
epilogue is small enough to copy per vector (`_unrolls`: a bias, an activation); otherwise
the epilogue is emitted once and looped over the tile's vectors, so a heavy fused epilogue
(an Adam update) costs one copy of its code, not MR x NR / lanes. The microkernel and the
B packing pass are internal functions of the kernel, called per tile and per block of B
panels (`_call_outlined`).

Weights kept packed (`prepacked_b=True`, for a B that is a variable the graph only reads,
as in inference): the kernel takes two more arguments after C, a buffer holding all of B's
panels behind a header, and the state version cell. Its entry compares the B pointer and
the version with the header's and packs the panels again only when either changed (a new
array; a variable assigned, or updated in place by a training step, since), as ONNX
Runtime prepacks its weights once. Measured on Zen 3, 2 threads: W1 and W7 2.5-3% faster.
Variables change through `assign` (and training); an array mutated in place behind them
is not seen by such a kernel until the next change of the version.

Half precision (float16 A and B, as under the `mixed_float16` policy): the operands are
widened to float32 as they are read (by the packing passes, or by the microkernel when it
reads one in place), the float32 microkernel accumulates, and the product is rounded to
float16 once, before the epilogue (which then runs in float16, as the elementwise emitter
computes it). NumPy's float16 matmul is the same: float32 sums, one rounding per output.
Packed panels, the row scratch and a kept packed B hold float32 (`accumulation_dtype`).

Changing the code this module emits changes object code for the same graph: bump
`target.CODEGEN_VERSION`, or the disk cache serves kernels built by the old version.
"""
import contextlib
import math
from dataclasses import dataclass, field

from llvmlite import ir

from graphkit import dtypes
from graphkit.codegen import expr as ex
from graphkit.codegen import loops, parallel
from graphkit.codegen.elementwise import KernelSpec, Operand, broadcast_strides
from graphkit.codegen.llvm_types import (
    I1, I32, I64, PTR, VOID, call_intrinsic, const, intrinsic, lanes_of, memory_type, splat,
    vector_of)
from graphkit.codegen.mathlib import MathLib
from graphkit.codegen.target import host_target, l2_cache_bytes

MR = 8  # tile rows of a two-vector tile with 32 vector registers (see `tile_rows`)
# Split "n" on several threads: each thread's share of N panels, in work units claimed at
# run time (see `_Gemm._claimed_units`).
UNITS_PER_THREAD = 4
# The K loop prefetches the packed B panel this many rows ahead (a row is one cache line
# with AVX2's 16-float NR); measured on Zen 3, 512x768x3072 single-threaded: 1-2% faster
# with 8 or 16 than without (the hardware prefetcher alone trails a 48 KB-and-up panel).
PREFETCH_K = 8
PACK_UNROLL = 8  # B panels packed per row unrolled (see `_Gemm._pack_b_row_major`)
# ... and the pass prefetches B this many rows ahead: rows of a panel or a few are short
# runs in pages of their own, which the hardware prefetchers do not follow (W7's
# 512x3072x768, one panel per block: 2% faster single-threaded).
PACK_PREFETCH_ROWS = 8
COUNTER_BYTES = 64  # the work-unit counter, after the threads' slots (a cache line of its own)
PREPACK_HEADER = 64  # a kept packed B's header: the B pointer and version it was packed from


# The dtype a GEMM of operands of a dtype accumulates (and packs its operands) in.
_ACCUMULATE = {"float16": "float32"}
GEMM_DTYPES = ("float16", "float32", "float64")


def accumulation_dtype(dtype):
    """float16 operands are widened and summed in float32 (see the module docstring)."""
    return _ACCUMULATE.get(dtype, dtype)


def widen(b, v, dtype):
    """A value of operand dtype `dtype` (scalar or vector) in its accumulation dtype."""
    acc = accumulation_dtype(dtype)
    return v if acc == dtype else b.fpext(v, vector_of(memory_type(acc), lanes_of(v.type)))


def narrow(b, v, dtype):
    """An accumulated value (scalar or vector) rounded once to the operand dtype `dtype`."""
    if accumulation_dtype(dtype) == dtype:
        return v
    return b.fptrunc(v, vector_of(memory_type(dtype), lanes_of(v.type)))


def _l2_budgets():
    """(L2, packed B block, A block) in bytes: B is blocked only when a thread's packed B
    would not fit L2; then B blocks take half of it and A blocks (MC x K) a quarter."""
    l2 = l2_cache_bytes()
    return l2, l2 // 2, l2 // 4


def tile_rows(nv):
    """Rows of a register tile `nv` vectors wide. Its rows x nv accumulators, the nv vectors
    of B and the broadcast A element must all fit the vector registers: one more and LLVM
    spills accumulators inside the K loop (Zen 3, 16 ymm registers: an 8 x 2 tile ran at
    60 GFLOP/s against NumPy's 170). 32 registers (AVX-512): 8 x 2 and 16 x 1; 16: 6 x 2
    and 12 x 1."""
    if host_target().vector_registers >= 32:
        return 2 * MR if nv == 1 else MR
    return 12 if nv == 1 else 6


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
    packed: tuple = ("a", "b")   # which operands are copied into panels (see _Tiling)
    prepacked_bytes: int = 0     # > 0: B is kept packed across calls in a buffer this big


@dataclass(frozen=True)
class _Tiling:
    """The register tile and the packing of one GEMM.

    The tile is MR x NR accumulators, NR = nv vectors: two vectors wide (8 x 32 floats with
    AVX-512) unless N fits one vector, where a one-vector tile of 2*MR rows (MR without
    AVX-512's 32 registers) keeps the accumulators busy instead of computing mostly padding
    columns; never more rows than M.
    A is read in place when its K dimension is contiguous (each of the tile's rows is one
    sequential stream; a packed copy would cost a scalar pass over A per thread), or its M
    dimension (a transposed A, as in a weight gradient x^T @ dy: each k reads the tile's
    MR contiguous elements, the same pattern as a packed panel). B is read
    in place only when it is row-major and A is one tile tall (tiny M, e.g. a batch of one:
    each B element is used once, and packing would double the traffic) or B is one vector
    wide (N <= lanes: its rows are consecutive, B is one contiguous stream of K x N that
    stays in cache, no stride to conflict on)."""
    mr: int
    nv: int
    nr: int
    mc: int
    split: str
    direct_a: bool
    direct_b: bool
    slot: int        # workspace bytes per thread
    b_elems: int     # elements of the packed B region at the start of a thread's slot
    nc_panels: int   # B panels packed (and then used by every row block) at a time
    unit: int = 0    # N panels per claimed work unit (split "n" on several threads), else 0
    rows_first: bool = False  # walk C a row of tiles at a time (see `_plan`)
    row_elems: int = 0  # > 0: the epilogue runs per row of tiles, over this scratch (`_plan`)


def _plan(shape, lanes, threads, a_strides, b_strides, updates=False):
    """`updates`: the epilogue reads operands of C's full shape (an optimizer update fused
    into a weight gradient reads and writes weights, m and v: megabytes per call)."""
    nv = 1 if shape.n <= lanes else 2
    nr = nv * lanes
    mr = max(1, min(tile_rows(nv), shape.m))
    panels_n = math.ceil(shape.n / nr)
    panels_m = math.ceil(shape.m / mr)
    split = "n" if (panels_n >= 2 * threads or shape.n >= shape.m) else "m"
    itemsize = dtypes.itemsize(accumulation_dtype(shape.dtype))  # of the packed copies
    # An update epilogue's traffic dominates its tiles' FMAs when K is short (dW = x^T @ dy:
    # K is the batch). Column strips of NR elements at a row stride (split "n", panel by
    # panel) defeat the hardware prefetchers; whole rows of tiles, each thread a range of
    # rows, stream C's operands sequentially (measured: the W3 dW + Adam kernels ~10%
    # faster). Only when a thread's whole packed B fits L2 (packed once per thread).
    l2_bytes, b_block_bytes, a_block_bytes = _l2_budgets()
    rows_first = updates and shape.k * panels_n * nr * itemsize <= l2_bytes
    if rows_first and shape.m >= 2 * threads * mr:
        split = "m"
    mc = max(mr, (a_block_bytes // max(1, shape.k * itemsize)) // mr * mr)
    mc = min(mc, panels_m * mr)
    direct_a = a_strides[-1] == 1 or a_strides[-2] == 1
    direct_b = b_strides[-1] == 1 and (shape.m <= mr or nv == 1)
    per_thread_n = math.ceil(panels_n / threads) if split == "n" else panels_n
    # With A read in place, B is packed a block of panels at a time, sized to stay in L2
    # while every row block runs over it (a thread's whole B range can be megabytes,
    # streamed again from L3 for each row block); a packed A would be packed again per block.
    nc_panels = per_thread_n
    if direct_a and shape.k * per_thread_n * nr * itemsize > l2_bytes:
        nc_panels = max(1, min(per_thread_n, b_block_bytes // max(1, shape.k * nr * itemsize)))
    b_elems = 0 if direct_b else shape.k * nc_panels * nr
    a_elems = 0 if direct_a else mc * shape.k
    unit = 0
    if split == "n" and threads > 1:
        unit = max(1, min(nc_panels, math.ceil(per_thread_n / UNITS_PER_THREAD)))
    # When a thread computes whole rows of tiles, its tiles park the products in a scratch
    # row (MR x N, in L1/L2) and the update epilogue then runs along those MR full rows of
    # C: its operands stream as a few sequential runs instead of MR x 3 strips per tile
    # (measured on Zen 3, one thread: the Adam update fused into a 784 x 128 x 512 weight
    # gradient cost 2.5 ns an element over the GEMM alone, 0.7 ns this way).
    row_elems = mr * panels_n * nr if rows_first and unit == 0 else 0
    slot = max(64, _round_up((b_elems + a_elems + row_elems) * itemsize, 64))
    return _Tiling(mr, nv, nr, mc, split, direct_a, direct_b, slot, b_elems, nc_panels, unit,
                   rows_first, row_elems)


def _prepackable(t, shape, threads):
    """Whether B can be kept packed across calls: B is packed (not read in place), there
    is no batch, and each panel is packed by one thread only (claimed work units, or one
    thread; a split of M rows has every thread walk every panel)."""
    return (not t.direct_b and not shape.batch and not t.rows_first
            and (t.split == "n" or threads == 1))


def _unit_schedule(panels_n, unit, threads):
    """(big, singles): the N panels as `big` work units of `unit` panels, then `singles`
    units of one. The threads claim them in that order, so the last claims are small and
    the threads finish together: with units of 5 panels, W7's first GEMM (39 units) kept one
    thread a whole unit (~4% of the GEMM) after the other ran out."""
    tail = min(panels_n, max(0, 2 * threads * (unit - 1)))
    big = (panels_n - tail) // unit
    return big, panels_n - big * unit


def _round_up(x, m):
    return (x + m - 1) // m * m


def emit_matmul(module, name, shape, epilogue=None, epilogue_operands=(), threads=None,
                parallel_ok=None, prepacked_b=False):
    if shape.dtype not in GEMM_DTYPES:
        raise ValueError(f"matmul codegen: kernel {name!r} supports {GEMM_DTYPES}, "
                         f"received {shape.dtype}")
    target = host_target()
    lanes = target.lanes(dtypes.itemsize(accumulation_dtype(shape.dtype)))
    threads = threads or parallel.num_threads()
    flops = 2 * shape.m * shape.n * shape.k * max(1, math.prod(shape.batch))
    if parallel_ok is None:
        parallel_ok = flops >= 8 * parallel.MIN_PARALLEL_WORK
    if not parallel_ok:
        threads = 1
    epilogues = _epilogue_list(epilogue, shape.dtype)
    body = _Gemm(shape, lanes, threads, epilogues, list(epilogue_operands), MathLib(module),
                 prepacked_b)
    t = body.t
    fn = loops.define_kernel(module, name, body.emit, parallel_ok and threads > 1)
    if t.unit or body.prepacked:
        b = ir.IRBuilder(fn.entry_basic_block)
        b.position_at_start(fn.entry_basic_block)
        ws = loops.arg_pointer(b, fn.args[0], body.ws_arg)
        counter = b.gep(ws, [I64(t.slot * threads)], source_etype=ir.IntType(8))
        # the counter the threads claim work units from starts at 0 on every call
        b.store(I64(0), counter, align=8)
        if body.prepacked:
            body.emit_repack_check(b, fn.args[0], counter)
    n_args = 2 + len(epilogue_operands) + len(epilogues)
    return MatmulSpec(name, n_args, len(epilogues), parallel_ok,
                      workspace_bytes=t.slot * threads + (
                          COUNTER_BYTES if t.unit or body.prepacked else 0),
                      threads=threads, split=t.split,
                      tile=(t.mr, t.nr),
                      packed=tuple(x for x, d in (("a", t.direct_a), ("b", t.direct_b))
                                   if not d),
                      prepacked_bytes=body.prepacked_bytes())


def _epilogue_list(epilogue, dtype):
    """[Expr, ...] from None (the plain product), one Expr or a list of them."""
    if epilogue is None:
        return [ex.input(0, dtype)]
    if isinstance(epilogue, (list, tuple)):
        if not epilogue:
            raise ValueError("matmul codegen: `epilogue` list is empty; expected at least one "
                             "Expr (one per output)")
        return list(epilogue)
    return [epilogue]


class _Gemm:
    def __init__(self, shape, lanes, threads, epilogues, epi_operands, mathlib,
                 prepacked_b=False):
        self.s, self.lanes, self.threads = shape, lanes, threads
        self.epilogues, self.epi_operands, self.math = epilogues, epi_operands, mathlib
        self._unrolled_epilogue = _unrolls(epilogues, epi_operands)
        # registers, packed panels and scratch: the accumulation dtype; A and B in memory:
        # the operand dtype (`src_ety`), widened as read
        self.ety = memory_type(accumulation_dtype(shape.dtype))
        self.itemsize = dtypes.itemsize(accumulation_dtype(shape.dtype))
        self.vty = vector_of(self.ety, lanes)
        self.src_ety = memory_type(shape.dtype)
        self.src_size = dtypes.itemsize(shape.dtype)
        s = shape
        self.a_str = list(s.a_strides or Operand(s.a_shape(), s.dtype).element_strides())
        self.b_str = list(s.b_strides or Operand(s.b_shape(), s.dtype).element_strides())
        self.epi_str = [broadcast_strides(o, s.c_shape()) for o in epi_operands]
        updates = any(st[-1] == 1 and st[-2] != 0 for st in self.epi_str)
        self.t = _plan(shape, lanes, threads, self.a_str, self.b_str, updates)
        self.prepacked = prepacked_b and _prepackable(self.t, shape, threads)
        # args: A, B, epilogue operands, C..., [packed B buffer, state version,] workspace
        n = 2 + len(epi_operands) + len(epilogues)
        self.pb_arg, self.version_arg = n, n + 1
        self.ws_arg = n + 2 if self.prepacked else n
        self.mr, self.nr, self.mc = self.t.mr, self.t.nr, self.t.mc
        self.split, self.slot, self.b_elems = self.t.split, self.t.slot, self.t.b_elems
        nb = len(s.batch)
        self.a_bstr = broadcast_strides(Operand(s.a_shape()[:-2], s.dtype,
                                                tuple(self.a_str[:-2])), s.batch)
        self.b_bstr = broadcast_strides(Operand(s.b_shape()[:-2], s.dtype,
                                                tuple(self.b_str[:-2])), s.batch)
        self.c_str = list(Operand(s.c_shape(), s.dtype).element_strides())
        self.nb = nb

    # -- driver --------------------------------------------------------------------------------

    def emit(self, b, args, tid, nth):
        n_epi = len(self.epi_operands)
        a_ptr = loops.arg_pointer(b, args, 0)
        b_ptr = loops.arg_pointer(b, args, 1)
        epi_ptrs = [loops.arg_pointer(b, args, 2 + i) for i in range(n_epi)]
        n_out = len(self.epilogues)
        c_ptrs = [loops.arg_pointer(b, args, 2 + n_epi + i) for i in range(n_out)]
        ws = loops.arg_pointer(b, args, self.ws_arg)
        if self.prepacked:
            # the panels, after the buffer's header; the flag the entry set (see
            # emit_repack_check), next to the work-unit counter
            self._pb = b.gep(loops.arg_pointer(b, args, self.pb_arg), [I64(PREPACK_HEADER)],
                             source_etype=ir.IntType(8))
            flag = b.gep(ws, [I64(self.slot * self.threads + 8)], source_etype=ir.IntType(8))
            self._repack = b.icmp_signed("!=", b.load(flag, typ=I64, align=8), I64(0))
        # never more workers than the workspace has slots for
        nth = b.select(b.icmp_signed(">", nth, I32(self.threads)), I32(self.threads), nth)
        active = b.icmp_signed("<", tid, nth)
        with b.if_then(active):
            slot = b.gep(ws, [b.mul(b.sext(tid, I64), I64(self.slot))], source_etype=ir.IntType(8))
            bp = slot
            ap = b.gep(slot, [I64(self.b_elems)], source_etype=self.ety)
            a_elems = 0 if self.t.direct_a else self.mc * self.s.k
            self._row_scratch = b.gep(ap, [I64(a_elems)], source_etype=self.ety)
            ptrs = (a_ptr, b_ptr, c_ptrs, epi_ptrs, ap, bp)
            if self.t.unit:
                self._claimed_units(b, ws, ptrs)
            else:
                self._static_share(b, tid, nth, ptrs)

    def _static_share(self, b, tid, nth, ptrs):
        """Thread `tid`'s fixed share: a range of M rows (split "m"), or all of C (one
        thread), every batch item, its N panels a packed block of B at a time."""
        s, mr = self.s, self.mr
        panels_n = math.ceil(s.n / self.nr)
        p0, p1 = I64(0), I64(panels_n)
        m0, m1 = I64(0), I64(s.m)
        if self.split == "m":
            q0, q1 = parallel.split_range(b, tid, nth, I64(math.ceil(s.m / mr)))
            m0 = b.mul(q0, I64(mr))
            m1 = b.select(b.icmp_signed("<", b.mul(q1, I64(mr)), I64(s.m)),
                          b.mul(q1, I64(mr)), I64(s.m))
        ncp = self.t.nc_panels
        with _loop_unless_one(b, max(1, math.prod(s.batch)), "batch") as bi:
            with loops.for_range(b, p0, p1, ncp, name="jc") as jc:
                j1 = b.add(jc, I64(ncp))
                j1 = b.select(b.icmp_signed("<", j1, p1), j1, p1)
                self._panel_block(b, bi, jc, j1, m0, m1, ptrs)

    def _claimed_units(self, b, ws, ptrs):
        """Split "n" on several threads: work units of `unit` N panels (of one batch item),
        claimed from a counter in the workspace until none is left. Why not a fixed half
        each: a thread the scheduler runs late (a busy machine, a worker waking up) just
        claims fewer units, instead of the other waiting for its half."""
        s, unit = self.s, self.t.unit
        panels_n = math.ceil(s.n / self.nr)
        big, singles = _unit_schedule(panels_n, unit, self.threads)
        per_batch = big + singles
        n_units = per_batch * max(1, math.prod(s.batch))
        counter = b.gep(ws, [I64(self.slot * self.threads)], source_etype=ir.IntType(8))
        fn = b.function
        head, body, done = (fn.append_basic_block(f"unit.{k}") for k in ("head", "body", "done"))
        b.branch(head)
        b.position_at_end(head)
        u = b.atomic_rmw("add", counter, I64(1), "monotonic")
        b.cbranch(b.icmp_unsigned("<", u, I64(n_units)), body, done)
        b.position_at_end(body)
        bi = b.udiv(u, I64(per_batch)) if s.batch else I64(0)
        k = b.urem(u, I64(per_batch)) if s.batch else u
        # units [0, big) of `unit` panels, then single panels up to panels_n
        is_big = b.icmp_signed("<", k, I64(big))
        jc = b.select(is_big, b.mul(k, I64(unit)), b.add(k, I64(big * unit - big)))
        j1 = b.add(jc, b.select(is_big, I64(unit), I64(1)))
        j1 = b.select(b.icmp_signed("<", j1, I64(panels_n)), j1, I64(panels_n))
        self._panel_block(b, bi, jc, j1, I64(0), I64(s.m), ptrs)
        b.branch(head)
        b.position_at_end(done)

    def _panel_block(self, b, bi, jc, j1, m0, m1, ptrs):
        """C[batch bi][m0:m1, panels jc:j1] (at most nc_panels panels: B's packed block)."""
        s = self.s
        a_ptr, b_ptr, c_ptrs, epi_ptrs, ap, bp = ptrs
        bidx = self._batch_index(b, bi)
        a_b = loops.element_ptr(b, a_ptr, s.dtype, self._off(b, bidx, self.a_bstr))
        b_b = loops.element_ptr(b, b_ptr, s.dtype, self._off(b, bidx, self.b_bstr))
        c_off = self._off(b, bidx, self.c_str[:self.nb])
        c_b = [loops.element_ptr(b, p, e.dtype, c_off)
               for p, e in zip(c_ptrs, self.epilogues)]
        e_b = [loops.element_ptr(b, p, o.dtype, self._off(b, bidx, st[:self.nb]))
               for p, o, st in zip(epi_ptrs, self.epi_operands, self.epi_str)]
        if self.prepacked:   # B's panels [jc, j1) are kept across calls: pack them anew
            bp = b.gep(self._pb, [b.mul(jc, I64(s.k * self.nr))], source_etype=self.ety)
            with b.if_then(self._repack):
                _call_outlined(b, "pack_b", [b_b, bp, jc, j1],
                               lambda pb, fa: self._pack_b(pb, *fa))
        elif not self.t.direct_b:
            _call_outlined(b, "pack_b", [b_b, bp, jc, j1],
                           lambda pb, fa: self._pack_b(pb, *fa))
        self._row_blocks(b, m0, m1, (a_b, ap), (b_b, bp), jc, j1, c_b, e_b)

    # -- B kept packed across calls ------------------------------------------------------------

    def prepacked_bytes(self):
        """The size of the buffer that keeps B packed across calls (0: B is packed per call)."""
        if not self.prepacked:
            return 0
        panels_n = math.ceil(self.s.n / self.nr)
        return PREPACK_HEADER + panels_n * self.s.k * self.nr * self.itemsize

    def emit_repack_check(self, b, args, counter):
        """In the kernel's entry (on the calling thread, before any task runs): whether B
        must be packed again, as a flag next to the work-unit counter. The buffer's header
        holds the B pointer and the state version (`ASSIGNMENTS`, in the cell the executable
        writes before each run) of the last packing: a new array, or any variable assigned
        or updated in place since, packs again. The header then takes the current ones:
        every panel is packed during this call."""
        header = loops.arg_pointer(b, args, self.pb_arg)
        version = b.load(loops.arg_pointer(b, args, self.version_arg), typ=I64, align=8)
        b_now = b.ptrtoint(loops.arg_pointer(b, args, 1), I64)
        saved_b, saved_version = (b.gep(header, [I64(i)], source_etype=I64) for i in (0, 1))
        stale = b.or_(b.icmp_unsigned("!=", b.load(saved_b, typ=I64, align=8), b_now),
                      b.icmp_unsigned("!=", b.load(saved_version, typ=I64, align=8), version))
        b.store(b.zext(stale, I64), b.gep(counter, [I64(8)], source_etype=ir.IntType(8)),
                align=8)
        b.store(b_now, saved_b, align=8)
        b.store(version, saved_version, align=8)

    def _row_blocks(self, b, m0, m1, a_src, b_src, jc, j1, c_b, e_b):
        """Every block of MC rows over the B panels [jc, j1)."""
        mr = self.mr
        with loops.for_range(b, m0, m1, self.mc, name="ic") as ic:
            rows = b.sub(m1, ic)
            rows = b.select(b.icmp_signed("<", rows, I64(self.mc)), rows, I64(self.mc))
            if not self.t.direct_a:
                self._pack_a(b, a_src[0], a_src[1], ic, rows)
            n_ap = b.udiv(b.add(rows, I64(mr - 1)), I64(mr))
            jr_loop, ir_loop = (jc, j1, "jr"), (0, n_ap, "ir")
            outer, inner = (ir_loop, jr_loop) if self.t.rows_first else (jr_loop, ir_loop)
            with loops.for_range(b, *outer[:2], name=outer[2]) as o_:
                with loops.for_range(b, *inner[:2], name=inner[2]) as i_:
                    ir_, jr = (o_, i_) if self.t.rows_first else (i_, o_)
                    self._call_micro(b, a_src, b_src, ic, ir_, jr, jc, rows, c_b, e_b)
                if self.t.row_elems:
                    self._call_row_epilogue(b, ic, o_, rows, c_b, e_b)

    def _call_row_epilogue(self, b, ic, ir_, rows, c_b, e_b):
        """The epilogue of row tile ir_ (MR rows of C, all N columns) over the products its
        tiles parked in the row scratch (`_Tiling.row_elems`)."""
        mr, lanes = self.mr, self.lanes
        ld = self.t.row_elems // mr
        row0 = b.add(ic, b.mul(ir_, I64(mr)))
        valid = b.sub(rows, b.mul(ir_, I64(mr)))
        valid = b.select(b.icmp_signed("<", valid, I64(mr)), valid, I64(mr))
        n_c = len(c_b)

        def body(eb, fa):
            scratch, row0_, valid_ = fa[0:3]
            cs, es = fa[3:3 + n_c], fa[3 + n_c:]
            with loops.for_range(eb, 0, valid_, name="er") as r:
                row = eb.add(row0_, r)
                g_row = eb.gep(scratch, [eb.mul(r, I64(ld))], source_etype=self.ety)

                def step(j, mask):
                    # the scratch row is padded to whole vectors: a full load is in bounds
                    acc = eb.load(eb.gep(g_row, [j], source_etype=self.ety), typ=self.vty,
                                  align=4)
                    self._store_tile(eb, acc, row, j, mask, I1(0) if mask is not None
                                     else None, cs, es)
                loops.vector_loop(eb, I64(0), I64(self.s.n), lanes, step)
        _call_outlined(b, "row_epilogue", [self._row_scratch, row0, valid, *c_b, *e_b], body)

    def _call_micro(self, b, a_src, b_src, ic, ir_, jr, p0, rows, c_b, e_b):
        if self.t.row_elems:  # the tile parks its products; the row epilogue stores C
            c_b, e_b = [self._row_scratch], []
        args = [*a_src, *b_src, ic, ir_, jr, p0, rows, *c_b, *e_b]
        n_c, n_e = len(c_b), len(e_b)

        def body(mb, fa):
            self._micro(mb, tuple(fa[0:2]), tuple(fa[2:4]), *fa[4:9], fa[9:9 + n_c],
                        fa[9 + n_c:9 + n_c + n_e])
        _call_outlined(b, "tile", args, body)

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
        if sn == 1:
            self._pack_b_row_major(b, src, bp, p0, p1)
            return
        with loops.for_range(b, p0, p1, name="pb") as p:
            col0 = b.mul(p, I64(nr))
            ncols = b.sub(I64(s.n), col0)
            dst_panel = b.gep(bp, [b.mul(b.sub(p, p0), I64(s.k * nr))], source_etype=self.ety)
            if sk == 1 and sn != 1:
                self._pack_b_transposed(b, src, dst_panel, col0, ncols)
            else:
                self._pack_b_rows(b, src, dst_panel, col0, ncols)

    def _pack_b_row_major(self, b, src, bp, p0, p1):
        """The panels [p0, p1) of a row-major B, one row of B at a time: the row's slices
        of the panels are contiguous (one run of (p1 - p0) x NR elements per row).

        Why a pass of its own, along B's rows: packed by the FMA loop instead (a row of one
        panel per K step, in place), W7's weights (9 MB, rows of 3 and 12 KB: a TLB miss
        and a cache miss per step) cost the tiles that packed them several times their FMA
        time: one thread ran W7's GEMMs at 87-89 GFLOP/s, this way at 92-95 (OpenBLAS 94).
        The panels of a row are unrolled (`PACK_UNROLL` at a time): a loop of a few panels
        per row mispredicts its exit on every row (W1's 256x784x512: 2-3%)."""
        s, nr, lanes = self.s, self.nr, self.lanes
        nv = nr // lanes
        sk = self.b_str[-2]
        whole = I64(s.n // nr)   # panels that end within N
        full_end = b.select(b.icmp_signed("<", p1, whole), p1, whole)
        masks = [loops.lane_mask(b, b.sub(I64(s.n), b.add(b.mul(full_end, I64(nr)),
                                                          I64(v * lanes))), lanes)
                 for v in range(nv)]
        group = min(self.t.nc_panels, PACK_UNROLL)
        prefetch = intrinsic(b.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
        with loops.for_range(b, 0, s.k, name="kb") as k:
            row = loops.element_ptr(b, src, s.dtype, b.mul(k, I64(sk)))
            dst = b.gep(bp, [b.mul(k, I64(nr))], source_etype=self.ety)

            def panel(p, load):
                ahead = b.gep(row, [b.add(b.mul(p, I64(nr)), I64(PACK_PREFETCH_ROWS * sk))],
                              source_etype=self.src_ety)
                for line in range(0, nr * self.src_size, 64):
                    b.call(prefetch, [b.gep(ahead, [I64(line)], source_etype=ir.IntType(8)),
                                      I32(0), I32(3), I32(1)])
                out = b.gep(dst, [b.mul(b.sub(p, p0), I64(s.k * nr))], source_etype=self.ety)
                for v in range(nv):
                    at = b.gep(row, [b.add(b.mul(p, I64(nr)), I64(v * lanes))],
                               source_etype=self.src_ety)
                    b.store(widen(b, load(at, v), s.dtype),
                            b.gep(out, [I64(v * lanes)], source_etype=self.ety), align=64)

            def panels(g0):
                for q in range(group):
                    p = b.add(g0, I64(q))
                    with b.if_then(b.icmp_signed("<", p, full_end)):
                        panel(p, lambda at, v: b.load(at, typ=vector_of(self.src_ety, lanes),
                                                      align=self.src_size))
            if group == self.t.nc_panels:
                panels(p0)
            else:
                with loops.for_range(b, p0, full_end, group, name="pg") as g0:
                    panels(g0)
            # the last panel, when it ends past N: masked loads (zeros past N)
            with b.if_then(b.icmp_signed("<", full_end, p1)):
                panel(full_end, lambda at, v: loops.masked_load(b, at, s.dtype, masks[v],
                                                                lanes))

    def _pack_b_transposed(self, b, src, dst_panel, col0, ncols):
        """A panel of a B stored transposed (N x K, K contiguous, e.g. dy @ W^T): blocks of
        lanes x lanes are read as contiguous K vectors, one per column, and transposed in
        registers (log2(lanes) rounds of two-input shuffles) instead of gathered."""
        s, nr, lanes = self.s, self.nr, self.lanes
        sn = self.b_str[-1]
        src_vty = vector_of(self.src_ety, lanes)
        zero = const(src_vty, 0.0)
        fn = loops.intrinsic(b.module, f"llvm.masked.load.{loops.type_suffix(src_vty)}.p0",
                             src_vty, [PTR, I32, ir.VectorType(I1, lanes), src_vty])
        block = self._tile_array(b, lanes)   # the transposed block, rows stored by a loop
        # loops over the block's K rows and the panel's vectors keep the code to one
        # transpose (lanes loads, lanes*log2(lanes) shuffles) per panel
        with loops.for_range(b, 0, s.k, lanes, name="kt") as kb:
            kmask = loops.lane_mask(b, b.sub(I64(s.k), kb), lanes)
            n_rows = b.sub(I64(s.k), kb)
            n_rows = b.select(b.icmp_signed("<", n_rows, I64(lanes)), n_rows, I64(lanes))
            with loops.for_range(b, 0, nr // lanes, name="kh") as h:
                c0 = b.mul(h, I64(lanes))
                rows = []
                for j in range(lanes):
                    col = b.add(c0, I64(j))
                    valid = splat(b, b.icmp_signed("<", col, ncols), lanes)
                    ptr = loops.element_ptr(b, src, s.dtype,
                                            b.add(b.mul(b.add(col0, col), I64(sn)), kb))
                    rows.append(widen(b, b.call(fn, [ptr, I32(1), b.and_(kmask, valid), zero]),
                                      s.dtype))
                for i, row in enumerate(_transpose_square(b, rows, lanes)):
                    b.store(row, b.gep(block, [I64(i)], source_etype=self.vty), align=64)
                with loops.for_range(b, 0, n_rows, name="ks") as i:
                    dst = b.gep(dst_panel, [b.add(b.mul(b.add(kb, i), I64(nr)), c0)],
                                source_etype=self.ety)
                    row = b.load(b.gep(block, [i], source_etype=self.vty), typ=self.vty,
                                 align=64)
                    b.store(row, dst, align=64)

    def _pack_b_rows(self, b, src, dst_panel, col0, ncols):
        """A panel of a B whose rows are strided (gathers)."""
        s, nr = self.s, self.nr
        sk, sn = self.b_str[-2], self.b_str[-1]
        with loops.for_range(b, 0, s.k, name="kb") as k:
            row = loops.element_ptr(b, src, s.dtype,
                                    b.add(b.mul(k, I64(sk)), b.mul(col0, I64(sn))))
            dst = b.gep(dst_panel, [b.mul(k, I64(nr))], source_etype=self.ety)
            for h in range(nr // self.lanes):
                lane0 = h * self.lanes
                mask = loops.lane_mask(b, b.sub(ncols, I64(lane0)), self.lanes)
                idx = b.mul(b.add(splat(b, I64(lane0), self.lanes),
                                  _iota64(self.lanes)), splat(b, I64(sn), self.lanes))
                v = widen(b, loops.gather(b, row, s.dtype, idx, mask, self.lanes), s.dtype)
                v = b.select(mask, v, const(self.vty, 0.0))
                b.store(v, b.gep(dst, [I64(lane0)], source_etype=self.ety), align=64)

    def _pack_a(self, b, src, ap, ic, rows):
        """Ap[panel][k][0:mr] = A[ic + panel*mr + r, k] (zeros past the block's rows)."""
        s = self.s
        sm, sk = self.a_str[-2], self.a_str[-1]
        n_panels = b.udiv(b.add(rows, I64(self.mr - 1)), I64(self.mr))
        with loops.for_range(b, 0, n_panels, name="pa") as p:
            dst_panel = b.gep(ap, [b.mul(p, I64(s.k * self.mr))], source_etype=self.ety)
            for r in range(self.mr):
                row = b.add(b.mul(p, I64(self.mr)), I64(r))
                valid = b.icmp_signed("<", row, rows)
                src_row = loops.element_ptr(b, src, s.dtype, b.mul(b.add(ic, row), I64(sm)))
                with b.if_else(valid) as (then, otherwise):
                    with then:
                        with loops.for_range(b, 0, s.k, name=f"ka{r}") as k:
                            v = widen(b, b.load(loops.element_ptr(b, src_row, s.dtype,
                                                                  b.mul(k, I64(sk))),
                                                typ=self.src_ety), s.dtype)
                            b.store(v, b.gep(dst_panel, [b.add(b.mul(k, I64(self.mr)), I64(r))],
                                             source_etype=self.ety))
                    with otherwise:
                        with loops.for_range(b, 0, s.k, name=f"kz{r}") as k:
                            b.store(const(self.ety, 0.0),
                                    b.gep(dst_panel, [b.add(b.mul(k, I64(self.mr)), I64(r))],
                                          source_etype=self.ety))

    # -- microkernel ---------------------------------------------------------------------------

    def _micro(self, b, a_src, b_src, ic, ir_, jr, p0, rows, c_b, e_b):
        """One MR x NR tile of C over the whole K."""
        s, lanes, nr, mr = self.s, self.lanes, self.nr, self.mr
        nv = nr // lanes
        row0 = b.add(ic, b.mul(ir_, I64(mr)))
        col0 = b.mul(jr, I64(nr))
        ncols = b.sub(I64(s.n), col0)
        load_a = self._a_reader(b, a_src, ic, ir_, row0, rows)
        load_b = self._b_reader(b, b_src, jr, p0, col0, ncols)
        prefetch = self._b_prefetcher(b, b_src, jr, p0)
        accs = self._k_loop(b, load_a, load_b, "kk", prefetch)
        if self.t.row_elems:
            self._park_tile(b, accs, jr, c_b[0])
            return
        valid = b.sub(rows, b.sub(row0, ic))
        valid = b.select(b.icmp_signed("<", valid, I64(mr)), valid, I64(mr))
        if not self._unrolled_epilogue:
            self._finish_tile_loop(b, accs, valid, row0, col0, ncols, c_b, e_b)
            return
        # A whole tile (the common case) stores its vectors straight from the registers:
        # with K short (a batch-sized K) the loop below costs a fifth of the tile.
        whole = b.and_(b.icmp_signed("==", valid, I64(mr)), b.icmp_signed(">=", ncols, I64(nr)))
        with b.if_else(whole) as (then, otherwise):
            with then:
                for i, acc in enumerate(accs):
                    r, v = divmod(i, nv)
                    self._store_tile(b, acc, b.add(row0, I64(r)), b.add(col0, I64(v * lanes)),
                                     None, None, c_b, e_b)
            with otherwise:
                self._finish_tile_loop(b, accs, valid, row0, col0, ncols, c_b, e_b)

    def _park_tile(self, b, accs, jr, scratch):
        """Store the tile's products, all MR x nv vectors, at columns jr * NR of the row
        scratch (rows past M and columns past N land in its padding, never read)."""
        lanes, nv = self.lanes, self.nr // self.lanes
        ld = self.t.row_elems // self.mr
        col0 = b.mul(jr, I64(self.nr))
        for i, acc in enumerate(accs):
            r, v = divmod(i, nv)
            p = b.gep(scratch, [b.add(col0, I64(r * ld + v * lanes))], source_etype=self.ety)
            b.store(acc, p, align=4)

    def _finish_tile_loop(self, b, accs, valid, row0, col0, ncols, c_b, e_b):
        """Epilogue + store of a tile's valid rows and columns, one loop over its vectors.
        The finished tile goes to a stack array indexed at run time (the accumulators
        themselves must keep constant indices to stay in registers), so a heavy epilogue
        (an Adam update) is emitted once, not MR x nv times."""
        lanes, nv, mr = self.lanes, self.nr // self.lanes, self.mr
        tile = self._tile_array(b, mr * nv)
        for i, acc in enumerate(accs):
            b.store(acc, b.gep(tile, [I64(i)], source_etype=self.vty))
        # the tile's vectors that hold columns < N (at most nv)
        n_vec = b.udiv(b.add(ncols, I64(lanes - 1)), I64(lanes))
        n_vec = b.select(b.icmp_signed("<", n_vec, I64(nv)), n_vec, I64(nv))
        with loops.for_range(b, 0, b.mul(valid, I64(nv)), name="er") as i:
            # one copy of the epilogue for all MR x nv vectors: i -> (row r, vector v)
            r, v = b.udiv(i, I64(nv)), b.urem(i, I64(nv))
            with b.if_then(b.icmp_signed("<", v, n_vec)):
                remaining = b.sub(ncols, b.mul(v, I64(lanes)))
                mask = loops.lane_mask(b, remaining, lanes)
                full = b.icmp_signed(">=", remaining, I64(lanes))
                acc = b.load(b.gep(tile, [i], source_etype=self.vty), typ=self.vty)
                self._store_tile(b, acc, b.add(row0, r), b.add(col0, b.mul(v, I64(lanes))),
                                 mask, full, c_b, e_b)

    def _k_loop(self, b, load_a, load_b, name, prefetch=None):
        """The register tile's FMAs over the whole K (the only unrolled code); returns the
        MR x nv accumulators, row-major. They are loop phis, not stack slots: a third of
        the instructions of an alloca/load/store loop, for the same code after mem2reg."""
        lanes, nv, mr = self.lanes, self.nr // self.lanes, self.mr
        fn = b.function
        pre = b.block
        head, body, done = (fn.append_basic_block(f"{name}.{k}")
                            for k in ("head", "body", "done"))
        b.branch(head)
        b.position_at_end(head)
        k = b.phi(I64, name=name)
        k.add_incoming(I64(0), pre)
        accs = []
        for _ in range(mr * nv):
            acc = b.phi(self.vty)
            acc.add_incoming(const(self.vty, 0.0), pre)
            accs.append(acc)
        b.cbranch(b.icmp_signed("<", k, I64(self.s.k)), body, done)
        b.position_at_end(body)
        bvec = [load_b(k, v) for v in range(nv)]
        if prefetch is not None:
            prefetch(k)
        new = []
        for r in range(mr):
            a = splat(b, load_a(k, r), lanes)
            new.extend(call_intrinsic(b, "fma", a, bvec[v], accs[r * nv + v])
                       for v in range(nv))
        latch = b.block
        k_next = b.add(k, I64(1))
        b.branch(head).set_metadata("llvm.loop", loops._loop_id(b.module, True))
        k.add_incoming(k_next, latch)
        for acc, value in zip(accs, new):
            acc.add_incoming(value, latch)
        b.position_at_end(done)
        return accs

    def _tile_array(self, b, count):
        """An entry-block stack array of `count` vectors (64-byte aligned)."""
        fn = b.function
        saved = b.block
        with b.goto_block(fn.entry_basic_block):
            if fn.entry_basic_block.instructions:
                b.position_before(fn.entry_basic_block.instructions[0])
            tile = b.alloca(self.vty, size=I64(count), name="tile")
            tile.align = 64
        b.position_at_end(saved)
        return tile

    def _a_reader(self, b, a_src, ic, ir_, row0, rows):
        """load_a(k, r) -> the scalar A[row0 + r, k], from the packed panel or in place."""
        s, mr = self.s, self.mr
        a_b, ap = a_src
        if not self.t.direct_a:
            a_panel = b.gep(ap, [b.mul(ir_, I64(s.k * mr))], source_etype=self.ety)
            return lambda k, r: b.load(b.gep(a_panel, [b.add(b.mul(k, I64(mr)), I64(r))],
                                             source_etype=self.ety), typ=self.ety)
        # Rows past the block's end read the last valid row (in bounds; never stored).
        last = b.sub(b.add(ic, rows), I64(1))
        row_ptrs = []
        for r in range(mr):
            row = b.add(row0, I64(r))
            row = b.select(b.icmp_signed(">", row, last), last, row)
            sm = self.a_str[-2]
            row_ptrs.append(loops.element_ptr(b, a_b, s.dtype,
                                              row if sm == 1 else b.mul(row, I64(sm))))
        sk = self.a_str[-1]
        offset = _per_k(lambda k: k if sk == 1 else b.mul(k, I64(sk)))
        return lambda k, r: widen(b, b.load(b.gep(row_ptrs[r], [offset(k, r)],
                                                  source_etype=self.src_ety),
                                            typ=self.src_ety), s.dtype)

    def _b_reader(self, b, b_src, jr, p0, col0, ncols):
        """load_b(k, v) -> vector v of B[k, col0 : col0 + NR], packed or in place (zeros
        past N)."""
        s, nr, lanes = self.s, self.nr, self.lanes
        b_b, bp = b_src
        if not self.t.direct_b:
            b_panel = b.gep(bp, [b.mul(b.sub(jr, p0), I64(s.k * nr))], source_etype=self.ety)
            row = _per_k(lambda k: b.gep(b_panel, [b.mul(k, I64(nr))], source_etype=self.ety))
            return lambda k, v: b.load(b.gep(row(k, v), [I64(v * lanes)],
                                             source_etype=self.ety), typ=self.vty, align=64)
        cols = [loops.element_ptr(b, b_b, s.dtype, b.add(col0, I64(v * lanes)))
                for v in range(nr // lanes)]
        masks = [loops.lane_mask(b, b.sub(ncols, I64(v * lanes)), lanes)
                 for v in range(nr // lanes)]
        sk = self.b_str[-2]
        offset = _per_k(lambda k: b.mul(k, I64(sk)))
        return lambda k, v: widen(b, loops.masked_load(
            b, b.gep(cols[v], [offset(k, v)], source_etype=self.src_ety), s.dtype, masks[v],
            lanes), s.dtype)

    def _b_prefetcher(self, b, b_src, jr, p0):
        """prefetch(k): touch the packed B panel PREFETCH_K rows ahead of row k, or None
        when B is read in place."""
        if self.t.direct_b or PREFETCH_K == 0:
            return None
        s, nr = self.s, self.nr
        bp = b_src[1]
        b_panel = b.gep(bp, [b.mul(b.sub(jr, p0), I64(s.k * nr))], source_etype=self.ety)
        fn = intrinsic(b.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])

        def prefetch(k):
            ahead = b.gep(b_panel, [b.mul(b.add(k, I64(PREFETCH_K)), I64(nr))],
                          source_etype=self.ety)
            b.call(fn, [ahead, I32(0), I32(3), I32(1)])
        return prefetch

    def _store_tile(self, b, acc, row, col, mask, full, c_b, e_b):
        """Epilogue and store of one vector of the tile; `mask` None: all lanes."""
        s, lanes = self.s, self.lanes
        if mask is None:
            m = const(ir.VectorType(I1, lanes), 1)
        else:
            m = b.select(full, const(mask.type, 1), mask)

        def load(i):
            if i == 0:   # the product, rounded once to the operand dtype (float16)
                return narrow(b, acc, s.dtype)
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

        # every value first, then every store: outputs may alias operands
        lowerer = ex.Lowerer(b, lanes, load, self.math)
        vals = [lowerer.emit(e) for e in self.epilogues]
        off = b.add(b.mul(row, I64(s.n)), col)
        for val, e, c in zip(vals, self.epilogues, c_b):
            loops.masked_store(b, val, loops.element_ptr(b, c, e.dtype, off), e.dtype, m, lanes)


# An epilogue of at most this many cheap ops is unrolled over a whole tile's vectors.
LIGHT_EPILOGUE_OPS = 6
# ... and so is one of at most this many ops of any kind that reads no operand of C's shape
# (an activation such as W7's gelu: its loop cost 5.2% of the GEMM, unrolled 3.4%; an
# optimizer update, which reads C-shaped operands, keeps one copy of its code).
UNROLLED_EPILOGUE_OPS = 30


def _unrolls(epilogues, operands):
    """True when a whole tile's epilogue is copied once per vector (no loop)."""
    n_ops = len(ex.op_nodes(epilogues))
    if not ex.is_heavy(epilogues) and n_ops <= LIGHT_EPILOGUE_OPS:
        return True
    return n_ops <= UNROLLED_EPILOGUE_OPS and all(len(o.shape) < 2 for o in operands)


def _per_k(compute):
    """f(k, i) -> compute(k), emitted once per K step: the K loop reads its operands with
    i = 0 first (row 0, vector 0), so that is where the value is made; the other rows and
    vectors of the step reuse it (less IR than one address computation per access)."""
    made = {}

    def get(k, i):
        if i == 0 or k not in made:
            made.clear()
            made[k] = compute(k)
        return made[k]
    return get


def _call_outlined(b, part, args, body):
    """Call `body(builder, params)`, emitted once as an internal noinline function of the
    kernel (`@<task>.<part>`), with `args` (values of the caller).

    Why: the optimizer's loop passes visit a loop's whole body once per enclosing loop
    level; a microkernel called (once per tile, K iterations each) from the 5-deep driver
    nest is optimized ~30% faster as a function of its own, at no measurable run time."""
    name = f"{b.function.name}.{part}"
    fn = b.module.globals.get(name)
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(ir.VoidType(), [a.type for a in args]),
                         name)
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        fb = ir.IRBuilder(fn.append_basic_block("entry"))
        body(fb, list(fn.args))
        fb.ret_void()
    b.call(fn, args)


@contextlib.contextmanager
def _loop_unless_one(b, count, name):
    """`for i in range(count)`, without the loop when count is 1: every loop level costs
    the optimizer's loop passes a visit of everything nested in it (compile time)."""
    if count == 1:
        yield I64(0)
        return
    with loops.for_range(b, 0, count, name=name) as i:
        yield i


def _transpose_square(b, rows, lanes):
    """Transpose a lanes x lanes block held as `lanes` vectors: at distance h (lanes/2 ...
    1), rows i and i+h swap their off-diagonal h-lane blocks."""
    rows = list(rows)
    h = lanes // 2
    while h >= 1:
        mty = ir.VectorType(I32, lanes)
        lo = ir.Constant(mty, [lane if not lane & h else lanes + lane - h
                               for lane in range(lanes)])
        hi = ir.Constant(mty, [lane + h if not lane & h else lanes + lane
                               for lane in range(lanes)])
        for i in range(lanes):
            if i & h:
                continue
            a, c = rows[i], rows[i + h]
            rows[i], rows[i + h] = b.shuffle_vector(a, c, lo), b.shuffle_vector(a, c, hi)
        h //= 2
    return rows


def _iota64(lanes):
    from graphkit.codegen.llvm_types import iota
    return iota(ir.VectorType(I64, lanes))


__all__ = ["MatmulShape", "MatmulSpec", "emit_matmul", "transpose_a", "transpose_b", "MR",
           "tile_rows", "I1", "GEMM_DTYPES", "accumulation_dtype", "widen", "narrow"]
