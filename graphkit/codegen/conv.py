"""Native lowering of the conv primitives (`conv`, `conv_input_grad`, `conv_filter_grad`).

All three are GEMMs over the *patch matrix* ("cols") of the channels-last input: one row per
output position (N * out_spatial rows), one column per (window offset, input channel)
(prod(window) * Cin columns, the channel fastest), zeros where a window reads padding. The
kernel (*window, Cin, Cout) is then a (K, Cout) matrix as stored, and (NumPy, in nn.py):

    conv             out  = cols(x) @ w            (M, K) x (K, Cout)
    conv_filter_grad dw   = cols(x)^T @ ct         (K, M) x (M, Cout)
    conv_input_grad  dx   = col2im(ct @ w^T)       (M, Cout) x (Cout, K), then overlap-add

- conv, 3x3 stride 1 and big enough: Winograd F(2x2, 3x3) (see that section), 2.25x fewer
  multiplies; the epilogue fused into the output transform.
- other convs: one threaded sub-kernel. Each thread packs the kernel once, then takes chunks
  of output rows and runs a register-tiled GEMM on them (`_ConvGemm`, which never packs A)
  with the kernel's epilogue (bias, activation, residual) fused into the store. Without
  padding (and with a unit dilation on the last dim) the GEMM reads the patch rows from x
  in place; otherwise each chunk's patch rows are first written into the thread's slice of
  the workspace (sized to stay in L2). The patch matrix is never whole in memory.
- conv_filter_grad: threads split the GEMM's reduction (the output rows) in chunks: patch
  rows into the workspace, then `_ConvGemm` reading them transposed accumulates into the
  thread's partial dw; a second sub-kernel sums the partials, then the epilogue.
- conv_input_grad: threads split the images in chunks; per chunk, one GEMM (ct @ w^T) writes
  the chunk's patch matrix into the thread's workspace and a gather-form col2im (each input
  element sums the patch entries that read it) writes those images of dx; then the
  epilogue as elementwise sub-kernels. (An image whose patch matrix is over 4 MiB: one
  GEMM into a whole scratch patch matrix, then the col2im over all of it.)
A grouped conv (depthwise...) and its gradients are direct loops (no GEMM: a group's GEMM
is too narrow to pay).

float16 (the `mixed_float16` policy), as matmul.py: `_ConvGemm` widens x, w and ct to
float32 as it reads them (packed kernel panels are float32), accumulates in float32 and
rounds each product once to float16 before the epilogue. conv_filter_grad keeps its
per-thread partial sums in float32 and rounds their total once. Patch rows (im2col) and
conv_input_grad's patch matrix and col2im stay float16, the steps NumPy's eager kernels
take in float16 too. The grouped direct loops and Winograd stay float32/float64 only.

`Windows` (the geometry) and the window-walking helpers are shared with pool.py.
"""
import contextlib
import math
from dataclasses import dataclass, replace

from llvmlite import ir

from graphkit import dtypes
from graphkit.codegen import expr as ex
from graphkit.codegen import loops, parallel
from graphkit.codegen.elementwise import Operand
from graphkit.codegen.llvm_types import (
    I64, PTR, VOID, call_intrinsic, const, memory_type, splat, vector_of)
from graphkit.codegen.lower_kernel import (
    SubKernel, Unsupported, _buffer_for, _cast, _check_broadcast, _elementwise_outputs,
    _ExprBuilder)
from graphkit.codegen.matmul import (
    GEMM_DTYPES, MatmulShape, accumulation_dtype, emit_matmul, narrow, tile_rows, transpose_b,
    widen)
from graphkit.codegen.reduction import _decompose
from graphkit.codegen.target import host_target

CHUNK_BYTES = 256 * 1024   # one chunk of patch rows, kept in L2 while the GEMM reads it
CONV_NV = 2  # microkernel tile: NV vectors wide, `tile_rows(NV)` rows


# -- geometry ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Windows:
    """A strided, dilated, padded window op over a channels-last (N, *spatial, C) input."""
    batch: int
    spatial: tuple      # input spatial dims
    out: tuple          # output spatial dims
    window: tuple
    strides: tuple
    dilation: tuple
    pads: tuple         # (low, high) per spatial dim
    channels: int

    @property
    def rank(self):
        return len(self.window)

    @property
    def kprod(self):
        return math.prod(self.window)

    @property
    def out_rows(self):
        """Output positions: rows of the patch matrix."""
        return self.batch * math.prod(self.out)

    @property
    def in_rows(self):
        return self.batch * math.prod(self.spatial)

    @property
    def patch_cols(self):
        return self.kprod * self.channels


def windows(spatial_in, out, window, strides, dilation, padding, batch, channels):
    if isinstance(padding, str):  # "same" left symbolic at trace time: resolve it now
        from graphkit.ops.nn import _pads_for
        padding = _pads_for(tuple(spatial_in), tuple(window), tuple(strides),
                            tuple(dilation), padding)
    return Windows(int(batch), tuple(spatial_in), tuple(out), tuple(window), tuple(strides),
                   tuple(dilation), tuple(tuple(p) for p in padding), int(channels))


# -- small emit helpers ------------------------------------------------------------------

def lanes_for(dtype):
    return host_target().lanes(dtypes.itemsize(dtype))


def smin(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def smax(b, x, y):
    return b.select(b.icmp_signed(">", x, y), x, y)


def ceil_div_nonneg(b, x, d):
    """ceil(x / d) for x >= 0 (callers clamp negatives first)."""
    return b.sdiv(b.add(x, I64(d - 1)), I64(d))


def channel_mask(b, total, start, lanes):
    """Lanes [start, start + lanes) below `total`: a constant when total is a multiple of
    lanes (then LLVM emits plain vector loads and stores)."""
    if total % lanes == 0:
        return const(ir.VectorType(ir.IntType(1), lanes), 1)
    return loops.lane_mask(b, b.sub(I64(total), start), lanes)


def copy_run(b, src, dst, count, dtype, lanes):
    """dst[0:count] = src[0:count] (count: i64), vectors of `lanes` and a masked tail."""
    vty = vector_of(memory_type(dtype), lanes)
    full = b.mul(b.sdiv(count, I64(lanes)), I64(lanes))
    with loops.for_range(b, 0, full, lanes, name="cp") as j:
        v = b.load(loops.element_ptr(b, src, dtype, j), typ=vty, align=dtypes.itemsize(dtype))
        b.store(v, loops.element_ptr(b, dst, dtype, j), align=dtypes.itemsize(dtype))
    rest = b.sub(count, full)
    with b.if_then(b.icmp_signed(">", rest, I64(0))):
        mask = loops.lane_mask(b, rest, lanes)
        v = loops.masked_load(b, loops.element_ptr(b, src, dtype, full), dtype, mask, lanes)
        loops.masked_store(b, v, loops.element_ptr(b, dst, dtype, full), dtype, mask, lanes)


def fill_run(b, dst, count, dtype, lanes, value=0.0):
    vty = vector_of(memory_type(dtype), lanes)
    full = b.mul(b.sdiv(count, I64(lanes)), I64(lanes))
    with loops.for_range(b, 0, full, lanes, name="fz") as j:
        b.store(const(vty, value), loops.element_ptr(b, dst, dtype, j),
                align=dtypes.itemsize(dtype))
    rest = b.sub(count, full)
    with b.if_then(b.icmp_signed(">", rest, I64(0))):
        mask = loops.lane_mask(b, rest, lanes)
        loops.masked_store(b, const(vty, value), loops.element_ptr(b, dst, dtype, full),
                           dtype, mask, lanes)


@contextlib.contextmanager
def nested_ranges(b, sizes, name):
    """Nested `for` loops over range(s) for s in sizes; yields the index list."""
    with contextlib.ExitStack() as stack:
        idx = [stack.enter_context(loops.for_range(b, 0, s, name=f"{name}{d}"))
               for d, s in enumerate(sizes)]
        yield idx


def flat_index(b, idx, dims):
    off = I64(0)
    for i, d in zip(idx, dims):
        off = b.add(b.mul(off, I64(d)), i)
    return off


def byte_offset(b, ptr, elements, dtype):
    return loops.element_ptr(b, ptr, dtype, elements)


# -- im2col ------------------------------------------------------------------------------

def emit_im2col_rows(module, fname, geo, dtype):
    """Internal `void fname(ptr x, ptr dst, i64 r0, i64 r1)`: patch rows [r0, r1) to dst.

    Per row and outer window offset, the valid offsets of the last window dim form one
    range [k0, k1): with dilation 1 they are one contiguous run of (k1 - k0) * C elements in
    both x and the row, so the copy is a vector loop; the rest of the row is zeroed."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, I64, I64]), fname)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    x, dst, r0, r1 = fn.args
    lanes = lanes_for(dtype)
    c = geo.channels
    in_strides = _contiguous((geo.batch,) + geo.spatial + (c,))
    kw, dl, st, lo = geo.window[-1], geo.dilation[-1], geo.strides[-1], geo.pads[-1][0]
    with loops.for_range(b, r0, r1, name="row") as r:
        pos = _decompose(b, r, [geo.batch] + list(geo.out))
        n, o = pos[0], pos[1:]
        row = byte_offset(b, dst, b.mul(b.sub(r, r0), I64(geo.patch_cols)), dtype)
        base_x = b.mul(n, I64(in_strides[0]))
        with nested_ranges(b, geo.window[:-1], "kw") as ks:
            valid, coords = window_inputs(b, geo, o, ks)
            src = base_x
            for j, i in enumerate(coords):
                src = b.add(src, b.mul(i, I64(in_strides[1 + j])))
            seg = byte_offset(b, row, b.mul(flat_index(b, ks, geo.window[:-1]),
                                            I64(kw * c)), dtype)
            with b.if_else(valid) as (then, otherwise):
                with then:
                    base = b.sub(b.mul(o[-1], I64(st)), I64(lo))   # input index at k = 0
                    # valid k: 0 <= base + k*dl < S
                    k0 = smin(b, ceil_div_nonneg(b, smax(b, b.neg(base), I64(0)), dl), I64(kw))
                    k1 = ceil_div_nonneg(b, smax(b, b.sub(I64(geo.spatial[-1]), base), I64(0)),
                                         dl)
                    k1 = smax(b, smin(b, k1, I64(kw)), k0)
                    fill_run(b, seg, b.mul(k0, I64(c)), dtype, lanes)
                    tail = byte_offset(b, seg, b.mul(k1, I64(c)), dtype)
                    fill_run(b, tail, b.mul(b.sub(I64(kw), k1), I64(c)), dtype, lanes)
                    first = b.add(src, b.mul(b.add(base, b.mul(k0, I64(dl))),
                                             I64(in_strides[-2])))
                    src_p = byte_offset(b, x, first, dtype)
                    dst_p = byte_offset(b, seg, b.mul(k0, I64(c)), dtype)
                    if dl == 1:
                        copy_run(b, src_p, dst_p, b.mul(b.sub(k1, k0), I64(c)), dtype, lanes)
                    else:
                        with loops.for_range(b, 0, b.sub(k1, k0), name="kd") as kk:
                            copy_run(b, byte_offset(b, src_p, b.mul(kk, I64(dl * c)), dtype),
                                     byte_offset(b, dst_p, b.mul(kk, I64(c)), dtype),
                                     I64(c), dtype, lanes)
                with otherwise:
                    fill_run(b, seg, I64(kw * c), dtype, lanes)
    b.ret_void()
    return fn


def _contiguous(shape):
    return Operand(tuple(shape), "float32").element_strides()


# -- lowering entry ----------------------------------------------------------------------

def lower_conv(module, node, info, lowering):
    anchor = info.anchor
    dtype = anchor.outputs[0].type.dtype
    if anchor.op not in _LOWERINGS:
        raise Unsupported(f"kernel {info.name} (conv): op '{anchor.op}' has no native "
                          "lowering")
    if dtype not in GEMM_DTYPES:
        raise Unsupported(f"kernel {info.name} ({anchor.op}): dtype {dtype} has no native "
                          f"lowering (expected one of {GEMM_DTYPES})")
    if accumulation_dtype(dtype) != dtype and anchor.attrs["groups"] != 1:
        # the grouped direct loops would sum in float16 (NumPy's half matmul sums in float32)
        raise Unsupported(f"kernel {info.name} ({anchor.op}): a grouped conv in {dtype} has "
                          "no native lowering")
    for v in anchor.operands:
        if v not in info.body.params:
            raise Unsupported(f"kernel {info.name} ({anchor.op}): an operand computed inside "
                              "the kernel has no native lowering")
    _LOWERINGS[anchor.op](module, node, info, lowering)


def _geometry(anchor):
    a = anchor.attrs
    if anchor.op == "conv":
        x, w = anchor.operands
        out = anchor.outputs[0].type.shape
        return windows(x.type.shape[1:-1], out[1:-1], w.type.shape[:-2], a["strides"],
                       a["dilation"], a["padding"], x.type.shape[0], x.type.shape[-1])
    if anchor.op == "conv_filter_grad":
        x, ct = anchor.operands
        return windows(x.type.shape[1:-1], ct.type.shape[1:-1], a["kernel_spatial"],
                       a["strides"], a["dilation"], a["padding"], x.type.shape[0],
                       x.type.shape[-1])
    ct, w = anchor.operands
    return windows(a["input_spatial"], ct.type.shape[1:-1], w.type.shape[:-2], a["strides"],
                   a["dilation"], a["padding"], ct.type.shape[0], w.type.shape[-2])


def _operand_key(info, param):
    return ("value", info.node.operands[info.body.params.index(param)])


# -- epilogue on a (rows, cols) GEMM view of the anchor's output --------------------------

def _gemm_view_operands(eb, out_shape, rows):
    """Epilogue operands as (rows | 1, cols | 1) matrices over the output seen as
    (prod(out_shape[:-1]), out_shape[-1]); None when one broadcasts some other way (a
    per-sample scale...)."""
    lead, cols = tuple(out_shape[:-1]), out_shape[-1]
    mats = []
    for t in eb.leaf_types[1:]:
        s = (1,) * (len(out_shape) - len(t.shape)) + tuple(t.shape)
        if s[-1] not in (1, cols):
            return None
        if all(d == 1 for d in s[:-1]):
            r = 1
        elif s[:-1] == lead:
            r = rows
        else:
            return None
        mats.append(Operand((r, s[-1]), t.dtype))
    return mats


def _fused_epilogue(info, node, product, view_rows):
    """(ExprBuilder, epilogue Expr, operand matrices) when the kernel's only output is the
    epilogue of `product` over its whole shape and the operands fit the GEMM view."""
    out_shape = tuple(product.type.shape)
    if len(node.outputs) != 1 or tuple(node.outputs[0].type.shape) != out_shape:
        return None
    eb = _ExprBuilder(info, [(product, ("product", None))])
    epilogue = _cast(eb.expr(info.body.outputs[0]), node.outputs[0].type.dtype)
    if epilogue.dtype != product.type.dtype:
        return None
    _check_broadcast(info, eb, out_shape)
    mats = _gemm_view_operands(eb, out_shape, view_rows)
    if mats is None:
        return None
    return eb, epilogue, mats


def _product_then_epilogue(node, info, product, lowering):
    """Buffer for the anchor's result, and a function emitting the kernel outputs from it."""
    body_out = dict(zip(info.body.outputs, node.outputs))
    p_outer = body_out.get(product)
    key = ("value", p_outer) if p_outer is not None else _buffer_for(product, node, lowering)

    def finish(module):
        skip = {p_outer} if p_outer is not None else set()
        _elementwise_outputs(module, node, info, {product: key}, lowering, skip=skip)
    return key, finish


def _name(info, lowering):
    return f"{info.name}_{len(lowering.subkernels)}"


# -- conv (forward) ----------------------------------------------------------------------

def _lower_forward(module, node, info, lowering):
    anchor = info.anchor
    geo = _geometry(anchor)
    dtype = anchor.outputs[0].type.dtype
    x_param, w_param = anchor.operands
    product = anchor.outputs[0]
    cout = product.type.shape[-1]
    rows = geo.out_rows
    chunk = _chunk_rows(geo, dtype)
    fused = _fused_epilogue(info, node, product, chunk)
    name = _name(info, lowering)
    if fused is not None:
        eb, epilogue, mats = fused
        epi_keys, out_key = eb.leaf_keys[1:], ("value", node.outputs[0])
    else:
        epilogue, mats, epi_keys = None, [], []
        out_key, finish = _product_then_epilogue(node, info, product, lowering)
    groups = anchor.attrs["groups"]
    if groups != 1:
        ws = _emit_grouped_conv(module, name, geo, dtype, cout, groups, epilogue, mats)
    elif _winograd_ok(geo, dtype, cout):
        ws = _emit_winograd(module, name, geo, dtype, cout, epilogue, mats)
    else:
        ws = _emit_chunked_conv(module, name, geo, dtype, cout, rows, chunk, epilogue, mats)
    lowering.subkernels.append(SubKernel(
        name, [_operand_key(info, x_param), _operand_key(info, w_param)] + list(epi_keys)
        + [out_key], workspace=ws))
    if fused is None:
        finish(module)


def _direct(geo):
    """True when the patch rows can be read from x in place: no padding (no zeros to
    supply) and a unit dilation on the last spatial dim, so that each (window row, all
    channels) run of a patch row is contiguous in x."""
    return all(p == (0, 0) for p in geo.pads) and geo.dilation[-1] == 1


def _chunk_rows(geo, dtype):
    per_row = geo.patch_cols * dtypes.itemsize(dtype)
    mr = tile_rows(CONV_NV)
    chunk = max(mr, (CHUNK_BYTES // max(1, per_row)) // mr * mr)
    # enough chunks for every thread
    threads = parallel.num_threads()
    if geo.out_rows < chunk * threads:
        chunk = max(mr, -(-geo.out_rows // threads) // mr * mr)
    return min(chunk, geo.out_rows)


def _emit_chunked_conv(module, name, geo, dtype, cout, rows, chunk, epilogue, mats):
    """`name(args = [x, w, epilogue operands..., out, workspace])`; returns workspace bytes.

    Threads split the chunks of output rows. Each thread packs w into column panels once,
    then runs the register-tiled GEMM (`_ConvGemm`) over each chunk, the epilogue fused
    into the store. Patch rows are read from x in place when `_direct`; otherwise each
    chunk's patch rows are first written into the thread's slice of the workspace."""
    k = geo.patch_cols
    direct = _direct(geo)
    itemsize = dtypes.itemsize(dtype)
    n_chunks = -(-rows // chunk)
    threads = parallel.num_threads()
    gemm = _ConvGemm(module, dtype, k, cout, epilogue, mats, geo if direct else None)
    packed_b = _round_up(gemm.packed_b_bytes, 64)
    cols_bytes = 0 if direct else _round_up(chunk * k * itemsize, 64)
    slot = packed_b + cols_bytes
    rows_fn = None if direct else emit_im2col_rows(module, f"{name}.im2col", geo, dtype)
    n_epi = len(mats)
    flops = 2 * rows * k * cout
    par = threads > 1 and n_chunks > 1 and flops >= 8 * parallel.MIN_PARALLEL_WORK

    def body(b, args, tid, nth):
        x, w = loops.arg_pointer(b, args, 0), loops.arg_pointer(b, args, 1)
        epi = [loops.arg_pointer(b, args, 2 + i) for i in range(n_epi)]
        out = loops.arg_pointer(b, args, 2 + n_epi)
        ws = loops.arg_pointer(b, args, 3 + n_epi)
        nth = smin(b, nth, ir.IntType(32)(threads))   # never more workers than slots
        with b.if_then(b.icmp_signed("<", tid, nth)):
            bp = b.gep(ws, [b.mul(b.sext(tid, I64), I64(slot))], source_etype=ir.IntType(8))
            cols = b.gep(bp, [I64(packed_b)], source_etype=ir.IntType(8))
            c0, c1 = parallel.split_range(b, tid, nth, I64(n_chunks))
            with b.if_then(b.icmp_signed("<", c0, c1)):
                gemm.pack_b(b, w, bp)
                with loops.for_range(b, c0, c1, name="chunk") as c:
                    r0 = b.mul(c, I64(chunk))
                    r1 = smin(b, b.add(r0, I64(chunk)), I64(rows))
                    if not direct:
                        b.call(rows_fn, [x, cols, r0, r1])
                    gemm.block(b, x if direct else cols, bp, r0, b.sub(r1, r0), epi, out)
    loops.define_kernel(module, name, body, par)
    return slot * threads


class _ConvGemm:
    """C[r0 : r0+rows] = epilogue(A @ B) over a block of patch rows A (rows, K) and the
    kernel B (K, N), packed once into panels of NR columns.

    A is never packed: the microkernel broadcasts it straight from its MR rows, either
    from the chunk's patch rows (row-major, K contiguous) or, `direct`, from x itself:
    patch row (n, o...) starts at x[n, o*strides...] and its K columns are, for every
    outer window offset, one contiguous run of kw * C elements.

    Microkernel: MR x NR accumulators (NR = NV vectors), FMA of broadcast A by vector B over
    the whole K; rows past the block and columns past N are masked at the store.

    A and B are of `dtype`; the panels and accumulators of its accumulation dtype
    (`acc_dtype`: float32 for float16, widened as read); the product is rounded to
    `out_dtype` (default `dtype`) before the epilogue, which writes C in that dtype."""

    def __init__(self, module, dtype, k, n, epilogue=None, mats=(), direct_geo=None,
                 a_strides=None, out_dtype=None):
        """direct_geo: read A from x in place through this geometry; else A is a strided
        matrix, `a_strides` = (row, k) in elements (default row-major: (k, 1))."""
        from graphkit.codegen.mathlib import MathLib
        self.geo, self.direct = direct_geo, direct_geo is not None
        self.a_strides = a_strides or (k, 1)
        self.dtype, self.k, self.n = dtype, k, n
        self.acc_dtype = accumulation_dtype(dtype)
        self.out_dtype = out_dtype or dtype
        self.lanes = lanes_for(self.acc_dtype)
        self.ety = memory_type(self.acc_dtype)
        self.vty = vector_of(self.ety, self.lanes)
        self.src_ety = memory_type(dtype)
        self.nv = min(CONV_NV, -(-n // self.lanes))
        self.mr = tile_rows(self.nv)
        self.nr = self.nv * self.lanes
        self.panels = -(-n // self.nr)
        self.packed_b_elems = self.panels * self.k * self.nr
        self.packed_b_bytes = self.packed_b_elems * dtypes.itemsize(self.acc_dtype)
        self.epilogue = epilogue or ex.input(0, self.out_dtype)
        self.mats = list(mats)
        self.math = MathLib(module)
        g = direct_geo
        if g is not None:   # K = outer window offsets x one run of kw * C
            self.x_strides = _contiguous((g.batch,) + g.spatial + (g.channels,))
            self.outer = tuple(g.window[:-1])
            self.outer_strides = tuple(self.x_strides[1 + j] * g.dilation[j]
                                       for j in range(g.rank - 1))
            self.run = g.window[-1] * g.channels
        else:
            self.outer, self.outer_strides, self.run = (), (), self.k

    def pack_b(self, b, w, bp, strides=None):
        """bp[p][k][0:NR] = w[k, p*NR : (p+1)*NR], zeros past N; `strides` (k, n) in
        elements read w as a view (default row-major (n, 1))."""
        if strides is not None and strides[1] != 1:
            return self._pack_b_strided(b, w, bp, strides)
        lanes, nr, acc = self.lanes, self.nr, self.acc_dtype
        with loops.for_range(b, 0, self.panels, name="pb") as p:
            col0 = b.mul(p, I64(nr))
            panel = byte_offset(b, bp, b.mul(p, I64(self.k * nr)), acc)
            with loops.for_range(b, 0, self.k, name="kb") as kk:
                src = byte_offset(b, w, b.add(b.mul(kk, I64(self.n)), col0), self.dtype)
                dst = byte_offset(b, panel, b.mul(kk, I64(nr)), acc)
                for v in range(self.nv):
                    mask = loops.lane_mask(b, b.sub(I64(self.n), b.add(col0, I64(v * lanes))),
                                           lanes)
                    val = loops.masked_load(b, byte_offset(b, src, I64(v * lanes), self.dtype),
                                            self.dtype, mask, lanes)
                    val = b.select(mask, widen(b, val, self.dtype), const(self.vty, 0.0))
                    b.store(val, byte_offset(b, dst, I64(v * lanes), acc), align=64)

    def _pack_b_strided(self, b, w, bp, strides):
        lanes, nr, acc = self.lanes, self.nr, self.acc_dtype
        ity = ir.VectorType(I64, lanes)
        with loops.for_range(b, 0, self.panels, name="pbs") as p:
            col0 = b.mul(p, I64(nr))
            panel = byte_offset(b, bp, b.mul(p, I64(self.k * nr)), acc)
            with loops.for_range(b, 0, self.k, name="kbs") as kk:
                dst = byte_offset(b, panel, b.mul(kk, I64(nr)), acc)
                for v in range(self.nv):
                    cols = b.add(splat(b, b.add(col0, I64(v * lanes)), lanes),
                                 ir.Constant(ity, list(range(lanes))))
                    mask = b.icmp_signed("<", cols, splat(b, I64(self.n), lanes))
                    idx = b.add(splat(b, b.mul(kk, I64(strides[0])), lanes),
                                b.mul(cols, splat(b, I64(strides[1]), lanes)))
                    val = widen(b, loops.gather(b, w, self.dtype, idx, mask, lanes), self.dtype)
                    val = b.select(mask, val, const(self.vty, 0.0))
                    b.store(val, byte_offset(b, dst, I64(v * lanes), acc), align=64)

    def block(self, b, a, bp, r0, rows, epi, out):
        mr = self.mr
        n_panels_m = b.sdiv(b.add(rows, I64(mr - 1)), I64(mr))
        with loops.for_range(b, 0, self.panels, name="jr") as jr:
            b_panel = byte_offset(b, bp, b.mul(jr, I64(self.k * self.nr)), self.acc_dtype)
            with loops.for_range(b, 0, n_panels_m, name="ir") as ip:
                self._micro(b, a, b_panel, r0, rows, ip, jr, epi, out)

    def _row_start(self, b, a, r0, local):
        """Pointer to column 0 of patch row `local` of the block."""
        if not self.direct:
            return byte_offset(b, a, b.mul(local, I64(self.a_strides[0])), self.dtype)
        g = self.geo
        pos = _decompose(b, b.add(r0, local), [g.batch] + list(g.out))
        off = b.mul(pos[0], I64(self.x_strides[0]))
        for j, o in enumerate(pos[1:]):
            off = b.add(off, b.mul(o, I64(g.strides[j] * self.x_strides[1 + j])))
        return byte_offset(b, a, off, self.dtype)

    def _micro(self, b, a, b_panel, r0, rows, ip, jr, epi, out):
        mr, nv, lanes = self.mr, self.nv, self.lanes
        first = b.mul(ip, I64(mr))
        last = b.sub(rows, I64(1))
        # rows past the block read the block's last row (never stored): no overrun
        a_rows = [self._row_start(b, a, r0, smin(b, b.add(first, I64(r)), last))
                  for r in range(mr)]
        slots = [[loops._entry_alloca(b, self.vty, f"cacc{r}_{v}") for v in range(nv)]
                 for r in range(mr)]
        for r in range(mr):
            for v in range(nv):
                b.store(const(self.vty, 0.0), slots[r][v])
        with nested_ranges(b, self.outer, "ko") as ko:
            a_off = I64(0)
            for kj, st in zip(ko, self.outer_strides):
                a_off = b.add(a_off, b.mul(kj, I64(st)))
            k_base = b.mul(flat_index(b, ko, self.outer), I64(self.run))
            a_seg = [byte_offset(b, p, a_off, self.dtype) for p in a_rows]
            b_seg = byte_offset(b, b_panel, b.mul(k_base, I64(self.nr)), self.acc_dtype)
            with loops.for_range(b, 0, self.run, name="kk") as kk:
                bvec = [b.load(byte_offset(b, b_seg, b.add(b.mul(kk, I64(self.nr)),
                                                           I64(v * lanes)), self.acc_dtype),
                               typ=self.vty, align=64) for v in range(nv)]
                for r in range(mr):
                    a_at = kk if self.a_strides[1] == 1 else b.mul(kk, I64(self.a_strides[1]))
                    a_el = b.load(byte_offset(b, a_seg[r], a_at, self.dtype), typ=self.src_ety)
                    av = splat(b, widen(b, a_el, self.dtype), lanes)
                    for v in range(nv):
                        acc = b.load(slots[r][v], typ=self.vty)
                        b.store(call_intrinsic(b, "fma", av, bvec[v], acc), slots[r][v])
        col0 = b.mul(jr, I64(self.nr))
        full_cols = self.n % self.nr == 0
        all_ones = const(ir.VectorType(ir.IntType(1), lanes), 1)

        def store_rows(checked):
            for r in range(mr):
                local = b.add(first, I64(r))
                with contextlib.ExitStack() as stack:
                    if checked:
                        stack.enter_context(b.if_then(b.icmp_signed("<", local, rows)))
                    row = b.add(r0, local)
                    for v in range(nv):
                        col = b.add(col0, I64(v * lanes))
                        acc = b.load(slots[r][v], typ=self.vty)
                        if full_cols:     # every panel is whole: no column checks
                            self._store(b, acc, row, col, all_ones, epi, out)
                            continue
                        remaining = b.sub(I64(self.n), col)
                        with b.if_then(b.icmp_signed(">", remaining, I64(0))):
                            self._store(b, acc, row, col, loops.lane_mask(b, remaining, lanes),
                                        epi, out)
        with b.if_else(b.icmp_signed("<=", b.add(first, I64(mr)), rows)) as (whole, edge):
            with whole:
                store_rows(False)
            with edge:
                store_rows(True)

    def _store(self, b, acc, row, col, mask, epi, out):
        lanes = self.lanes

        def load(i):
            if i == 0:   # the product, rounded once to the output dtype (float16)
                return narrow(b, acc, self.out_dtype)
            o = self.mats[i - 1]
            rs = o.shape[1] if o.shape[0] != 1 else 0
            off = b.add(b.mul(row, I64(rs)), col if o.shape[1] != 1 else I64(0))
            base = byte_offset(b, epi[i - 1], off, o.dtype)
            if o.shape[1] == 1:
                return splat(b, loops.load_value(b, base, o.dtype, 1), lanes)
            return loops.masked_load(b, base, o.dtype, mask, lanes)
        val = ex.Lowerer(b, lanes, load, self.math).emit(self.epilogue)
        dst = byte_offset(b, out, b.add(b.mul(row, I64(self.n)), col), self.out_dtype)
        loops.masked_store(b, val, dst, self.out_dtype, mask, lanes)


# -- grouped conv (depthwise...) -------------------------------------------------------------

def _emit_grouped_conv(module, name, geo, dtype, cout, groups, epilogue, mats):
    """`name(args = [x, w, epilogue operands..., out])`: a direct loop, no GEMM (a group's
    GEMM is too narrow to pay): per output position (threads split them) and vector of
    output channels oc, sum over window offsets and the group's Cg input channels of
    x[.., group(oc) * Cg + c] * w[k, c, oc]; w's rows are contiguous in oc, and x's channel
    is one broadcast value when a whole vector lies in one group, a contiguous vector for
    depthwise with multiplier 1, a gather otherwise. Returns 0 (no workspace)."""
    lanes = lanes_for(dtype)
    vty = vector_of(memory_type(dtype), lanes)
    cg, cog = geo.channels // groups, cout // groups
    storer = _ConvGemm(module, dtype, 1, cout, epilogue, mats)
    n_epi = len(mats)
    work = geo.out_rows * cout * geo.kprod * cg * dtypes.itemsize(dtype)
    ity = ir.VectorType(I64, lanes)

    def x_channels(b, xrow, oc, c, mask):
        if cog % lanes == 0:    # the whole vector is in group oc // cog
            ch = b.add(b.mul(b.sdiv(oc, I64(cog)), I64(cg)), I64(c))
            return splat(b, loops.load_value(b, byte_offset(b, xrow, ch, dtype), dtype, 1),
                         lanes)
        if cg == 1 and cog == 1:
            return loops.masked_load(b, byte_offset(b, xrow, oc, dtype), dtype, mask, lanes)
        ocs = b.add(splat(b, oc, lanes), ir.Constant(ity, list(range(lanes))))
        idx = b.add(b.mul(b.sdiv(ocs, splat(b, I64(cog), lanes)), splat(b, I64(cg), lanes)),
                    splat(b, I64(c), lanes))
        v = loops.gather(b, xrow, dtype, idx, mask, lanes)
        return b.select(mask, v, const(vty, 0.0))

    def body(b, args, tid, nth):
        x, w = loops.arg_pointer(b, args, 0), loops.arg_pointer(b, args, 1)
        epi = [loops.arg_pointer(b, args, 2 + i) for i in range(n_epi)]
        out = loops.arg_pointer(b, args, 2 + n_epi)
        acc = loops._entry_alloca(b, vty, "gacc")
        p0, p1 = parallel.split_range(b, tid, nth, I64(geo.out_rows))
        with loops.for_range(b, p0, p1, name="pos") as p:
            pos = _decompose(b, p, [geo.batch] + list(geo.out))
            n, o = pos[0], pos[1:]
            with loops.for_range(b, 0, cout, lanes, name="oc") as oc:
                mask = channel_mask(b, cout, oc, lanes)
                b.store(const(vty, 0.0), acc)
                with nested_ranges(b, geo.window, "gk") as ks:
                    valid, coords = window_inputs(b, geo, o, ks)
                    with b.if_then(valid):
                        xrow = input_row(b, x, geo, n, coords, dtype)
                        kf = flat_index(b, ks, geo.window)
                        for c in range(cg):
                            wv = loops.masked_load(b, byte_offset(
                                b, w, b.add(b.mul(b.add(b.mul(kf, I64(cg)), I64(c)),
                                                  I64(cout)), oc), dtype), dtype, mask, lanes)
                            xv = x_channels(b, xrow, oc, c, mask)
                            b.store(call_intrinsic(b, "fma", xv, wv, b.load(acc, typ=vty)), acc)
                storer._store(b, b.load(acc, typ=vty), p, oc, mask, epi, out)
    loops.define_kernel(module, name, body, work >= parallel.MIN_PARALLEL_WORK)
    return 0


# -- Winograd F(2x2, 3x3) ------------------------------------------------------------------
#
# A 3x3 stride-1 conv computes each 2x2 output tile from a 4x4 input tile d as
#     Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise over the 16 points)
# which is 16 GEMMs (tiles x Cin) @ (Cin x Cout), one per point, with 2.25x fewer
# multiplies than the direct form. Per chunk of tiles, a thread transforms the input tiles
# into V (16 x tiles x Cin, in L2), runs the 16 GEMMs into M (16 x tiles x Cout) and
# transforms M back, the kernel's epilogue fused into that store; each thread transforms
# the kernel into packed GEMM panels once per call.

WINOGRAD_TILES = 64           # tiles per chunk: V + M stay in L2
WINOGRAD_MIN_ROWS = 4096      # below this many output positions the direct GEMM is as good


def _winograd_ok(geo, dtype, cout):
    return (geo.rank == 2 and geo.window == (3, 3) and geo.strides == (1, 1)
            and geo.dilation == (1, 1) and dtype == "float32" and geo.channels >= 8
            and cout >= 16 and geo.out_rows >= WINOGRAD_MIN_ROWS)


def _bt(b, d):
    """B^T d for F(2,3) along the first index of 4 values."""
    return [b.fsub(d[0], d[2]), b.fadd(d[1], d[2]), b.fsub(d[2], d[1]), b.fsub(d[1], d[3])]


def _g(b, g, half):
    """G g for 3 values -> 4."""
    s = b.fadd(g[0], g[2])
    return [g[0], b.fmul(b.fadd(s, g[1]), half), b.fmul(b.fsub(s, g[1]), half), g[2]]


def _at(b, m):
    """A^T m for 4 values -> 2."""
    return [b.fadd(b.fadd(m[0], m[1]), m[2]), b.fsub(b.fsub(m[1], m[2]), m[3])]


def _apply_2d(b, f, grid):
    """f applied along rows then columns of a square list-of-lists grid of vectors."""
    cols = [f(b, [row[j] for row in grid]) for j in range(len(grid[0]))]   # per column
    rows = [[cols[j][a] for j in range(len(cols))] for a in range(len(cols[0]))]
    return [f(b, r) for r in rows]


def _emit_winograd(module, name, geo, dtype, cout, epilogue, mats):
    """`name(args = [x, w, epilogue operands..., out, workspace])`; returns workspace bytes."""
    lanes = lanes_for(dtype)
    vty = vector_of(memory_type(dtype), lanes)
    c, (oh, ow), (hh, ww) = geo.channels, geo.out, geo.spatial
    th, tw = -(-oh // 2), -(-ow // 2)
    tiles = geo.batch * th * tw
    t_chunk = WINOGRAD_TILES
    n_chunks = -(-tiles // t_chunk)
    gemm = _ConvGemm(module, dtype, c, cout)
    storer = _ConvGemm(module, dtype, c, cout, epilogue, mats)
    item = dtypes.itemsize(dtype)
    u_elems = gemm.packed_b_elems
    # One cache line between the 16 point matrices: at a power-of-two stride their 16
    # streams would all map to the same L1 sets.
    v_stride = _round_up(t_chunk * c, lanes) + lanes
    m_stride = _round_up(t_chunk * cout, lanes) + lanes
    u_bytes = _round_up(16 * u_elems * item, 64)
    v_bytes = _round_up(16 * v_stride * item, 64)
    m_bytes = _round_up(16 * m_stride * item, 64)
    slot = u_bytes + v_bytes + m_bytes
    threads = parallel.num_threads()
    n_epi = len(mats)
    lo_h, lo_w = geo.pads[0][0], geo.pads[1][0]
    half = const(vty, 0.5)

    def transform_kernel(b, w, up):
        """up[p][c][0:NR] per point = (G g G^T) of w[:, :, c, p*NR ...] (zeros past Cout)."""
        with loops.for_range(b, 0, c, name="uc") as ci:
            for p in range(gemm.panels):
                for v in range(gemm.nv):
                    o0 = p * gemm.nr + v * lanes
                    if o0 >= cout:
                        vals = [const(vty, 0.0)] * 16
                    else:
                        mask = loops.lane_mask(b, I64(cout - o0), lanes)
                        g = [[loops.masked_load(b, byte_offset(
                            b, w, b.add(b.mul(b.add(I64((i * 3 + j) * c), ci), I64(cout)),
                                        I64(o0)), dtype), dtype, mask, lanes)
                              for j in range(3)] for i in range(3)]
                        u = _apply_2d(b, lambda b_, r: _g(b_, r, half), g)
                        vals = [u[a][bb] for a in range(4) for bb in range(4)]
                    for xi, val in enumerate(vals):
                        off = b.add(b.mul(ci, I64(gemm.nr)),
                                    I64(xi * u_elems + p * c * gemm.nr + v * lanes))
                        b.store(val, byte_offset(b, up, off, dtype), align=64)

    def transform_input(b, x, vp, t0, nt):
        with loops.for_range(b, 0, nt, name="vt") as tl:
            n, ty, tx = _decompose(b, b.add(t0, tl), [geo.batch, th, tw])
            y0 = b.sub(b.mul(ty, I64(2)), I64(lo_h))
            x0 = b.sub(b.mul(tx, I64(2)), I64(lo_w))
            ok_y = [b.and_(b.icmp_signed(">=", b.add(y0, I64(i)), I64(0)),
                           b.icmp_signed("<", b.add(y0, I64(i)), I64(hh))) for i in range(4)]
            ok_x = [b.and_(b.icmp_signed(">=", b.add(x0, I64(j)), I64(0)),
                           b.icmp_signed("<", b.add(x0, I64(j)), I64(ww))) for j in range(4)]
            base = b.mul(b.add(b.mul(b.add(b.mul(n, I64(hh)), y0), I64(ww)), x0), I64(c))
            interior = ok_y[0]
            for ok in ok_y[1:] + ok_x:
                interior = b.and_(interior, ok)
            with b.if_else(interior) as (inside, border):
                with inside:      # the common case: no bounds checks
                    transform_channels(b, x, vp, tl, base, None, None)
                with border:
                    transform_channels(b, x, vp, tl, base, ok_y, ok_x)

    def transform_channels(b, x, vp, tl, base, ok_y, ok_x):
        with loops.for_range(b, 0, c, lanes, name="vc") as ch:
            cmask = channel_mask(b, c, ch, lanes)
            d = []
            for i in range(4):
                row = []
                for j in range(4):
                    off = b.add(base, b.add(I64((i * ww + j) * c), ch))
                    mask = cmask if ok_y is None else b.and_(
                        cmask, splat(b, b.and_(ok_y[i], ok_x[j]), lanes))
                    row.append(loops.masked_load(b, byte_offset(b, x, off, dtype), dtype,
                                                 mask, lanes))
                d.append(row)
            vals = _apply_2d(b, _bt, d)
            for a in range(4):
                for bb in range(4):
                    off = b.add(b.mul(tl, I64(c)), b.add(ch, I64((a * 4 + bb) * v_stride)))
                    loops.masked_store(b, vals[a][bb], byte_offset(b, vp, off, dtype),
                                       dtype, cmask, lanes)

    def transform_output(b, mp, t0, nt, epi, out):
        with loops.for_range(b, 0, nt, name="yt") as tl:
            n, ty, tx = _decompose(b, b.add(t0, tl), [geo.batch, th, tw])
            with loops.for_range(b, 0, cout, lanes, name="yc") as oc:
                omask = channel_mask(b, cout, oc, lanes)
                m = [[loops.masked_load(b, byte_offset(
                    b, mp, b.add(b.mul(tl, I64(cout)), b.add(oc, I64((a * 4 + bb) * m_stride))),
                    dtype),
                    dtype, omask, lanes) for bb in range(4)] for a in range(4)]
                y = _apply_2d(b, _at, m)
                for i in range(2):
                    for j in range(2):
                        oy = b.add(b.mul(ty, I64(2)), I64(i))
                        ox = b.add(b.mul(tx, I64(2)), I64(j))
                        inside = b.and_(b.icmp_signed("<", oy, I64(oh)),
                                        b.icmp_signed("<", ox, I64(ow)))
                        with b.if_then(inside):
                            row = b.add(b.mul(b.add(b.mul(n, I64(oh)), oy), I64(ow)), ox)
                            storer._store(b, y[i][j], row, oc, omask, epi, out)

    def body(b, args, tid, nth):
        x, w = loops.arg_pointer(b, args, 0), loops.arg_pointer(b, args, 1)
        epi = [loops.arg_pointer(b, args, 2 + i) for i in range(n_epi)]
        out = loops.arg_pointer(b, args, 2 + n_epi)
        ws = loops.arg_pointer(b, args, 3 + n_epi)
        nth = smin(b, nth, ir.IntType(32)(threads))
        with b.if_then(b.icmp_signed("<", tid, nth)):
            up = b.gep(ws, [b.mul(b.sext(tid, I64), I64(slot))], source_etype=ir.IntType(8))
            vp = b.gep(up, [I64(u_bytes)], source_etype=ir.IntType(8))
            mp = b.gep(vp, [I64(v_bytes)], source_etype=ir.IntType(8))
            c0, c1 = parallel.split_range(b, tid, nth, I64(n_chunks))
            with b.if_then(b.icmp_signed("<", c0, c1)):
                transform_kernel(b, w, up)
                with loops.for_range(b, c0, c1, name="wchunk") as ck:
                    t0 = b.mul(ck, I64(t_chunk))
                    nt = b.sub(smin(b, b.add(t0, I64(t_chunk)), I64(tiles)), t0)
                    transform_input(b, x, vp, t0, nt)
                    with loops.for_range(b, 0, 16, name="xi") as xi:
                        a = byte_offset(b, vp, b.mul(xi, I64(v_stride)), dtype)
                        bp = byte_offset(b, up, b.mul(xi, I64(u_elems)), dtype)
                        mo = byte_offset(b, mp, b.mul(xi, I64(m_stride)), dtype)
                        gemm.block(b, a, bp, I64(0), nt, [], mo)
                    transform_output(b, mp, t0, nt, epi, out)
    par = threads > 1 and n_chunks > 1
    loops.define_kernel(module, name, body, par)
    return slot * threads


def _round_up(x, m):
    return (x + m - 1) // m * m


# -- conv_filter_grad ----------------------------------------------------------------------

def _lower_filter_grad(module, node, info, lowering):
    """dw (K, Cout) = cols^T @ ct: threads split the output rows (the GEMM's reduction) in
    chunks; per chunk, the patch rows go to the workspace and a GEMM reading them
    transposed adds cols_chunk^T @ ct_chunk into the thread's partial dw (a scratch
    buffer); a second sub-kernel sums the partials, then the epilogue runs."""
    anchor = info.anchor
    geo = _geometry(anchor)
    if anchor.attrs["groups"] != 1:
        return _lower_grouped_grad(module, node, info, lowering, _emit_grouped_filter_grad,
                                   geo)
    dtype = anchor.outputs[0].type.dtype
    x_param, ct_param = anchor.operands
    product = anchor.outputs[0]
    cout = product.type.shape[-1]
    k = geo.patch_cols
    threads = parallel.num_threads()
    # float16: the partial sums stay float32, rounded once by the sum of the partials
    lowering.scratch.append(((threads, k, cout), accumulation_dtype(dtype)))
    partials = ("scratch", len(lowering.scratch) - 1)
    name = _name(info, lowering)
    ws = _emit_filter_grad_partials(module, name, geo, dtype, cout, threads)
    lowering.subkernels.append(SubKernel(
        name, [_operand_key(info, x_param), _operand_key(info, ct_param), partials],
        workspace=ws))
    key, finish = _product_then_epilogue(node, info, product, lowering)
    name = _name(info, lowering)
    _emit_sum_partials(module, name, threads, k * cout, dtype)
    lowering.subkernels.append(SubKernel(name, [partials, key]))
    finish(module)


def _emit_filter_grad_partials(module, name, geo, dtype, cout, threads):
    """`name(args = [x, ct, partials (threads, K, Cout), workspace])`; returns workspace
    bytes. Thread t accumulates into partials[t] (of the accumulation dtype); it zeroes
    the slots of threads that do not run (t, t + nth, ...), so the sum never reads stale
    values."""
    k, rows = geo.patch_cols, geo.out_rows
    item = dtypes.itemsize(dtype)
    pdt = accumulation_dtype(dtype)
    mr = tile_rows(CONV_NV)
    chunk = min(rows, max(mr, (CHUNK_BYTES // (k * item)) // mr * mr))
    n_chunks = -(-rows // chunk)
    remainder = rows - (n_chunks - 1) * chunk
    acc = ex.apply("add", ex.input(0, pdt), ex.input(1, pdt))
    gemms = {m: _ConvGemm(module, dtype, m, cout, acc, [Operand((k, cout), pdt)],
                          a_strides=(1, k), out_dtype=pdt) for m in sorted({chunk, remainder})}
    packed_b = _round_up(max(g.packed_b_bytes for g in gemms.values()), 64)
    slot = packed_b + _round_up(chunk * k * item, 64)
    rows_fn = emit_im2col_rows(module, f"{name}.im2col", geo, dtype)
    lanes = lanes_for(pdt)
    flops = 2 * rows * k * cout
    par = threads > 1 and n_chunks > 1 and flops >= 8 * parallel.MIN_PARALLEL_WORK

    def run_chunk(b, gemm, x, ct, cols, bp, part, r0, r1):
        b.call(rows_fn, [x, cols, r0, r1])
        gemm.pack_b(b, byte_offset(b, ct, b.mul(r0, I64(cout)), dtype), bp)
        gemm.block(b, cols, bp, I64(0), I64(k), [part], part)

    def body(b, args, tid, nth):
        x, ct, partials = (loops.arg_pointer(b, args, i) for i in range(3))
        ws = loops.arg_pointer(b, args, 3)
        nth = smin(b, nth, ir.IntType(32)(threads))
        with b.if_then(b.icmp_signed("<", tid, nth)):
            with loops.for_range(b, b.sext(tid, I64), threads, b.sext(nth, I64),
                                 name="zero") as t:
                fill_run(b, byte_offset(b, partials, b.mul(t, I64(k * cout)), pdt),
                         I64(k * cout), pdt, lanes)
            part = byte_offset(b, partials, b.mul(b.sext(tid, I64), I64(k * cout)), pdt)
            bp = b.gep(ws, [b.mul(b.sext(tid, I64), I64(slot))], source_etype=ir.IntType(8))
            cols = b.gep(bp, [I64(packed_b)], source_etype=ir.IntType(8))
            c0, c1 = parallel.split_range(b, tid, nth, I64(n_chunks))
            with loops.for_range(b, c0, c1, name="chunk") as c:
                r0 = b.mul(c, I64(chunk))
                r1 = smin(b, b.add(r0, I64(chunk)), I64(rows))
                if len(gemms) == 1:
                    run_chunk(b, gemms[chunk], x, ct, cols, bp, part, r0, r1)
                else:
                    full = b.icmp_signed("==", b.sub(r1, r0), I64(chunk))
                    with b.if_else(full) as (whole, last):
                        with whole:
                            run_chunk(b, gemms[chunk], x, ct, cols, bp, part, r0, r1)
                        with last:
                            run_chunk(b, gemms[remainder], x, ct, cols, bp, part, r0, r1)
    loops.define_kernel(module, name, body, par)
    return slot * threads


def _emit_sum_partials(module, name, threads, size, dtype):
    """`name(args = [partials (threads, size), out (size)])`: out = the sum over threads;
    the partials are of `dtype`'s accumulation dtype, rounded once to `dtype`."""
    pdt = accumulation_dtype(dtype)
    lanes = lanes_for(pdt)

    def body(b, args, tid, nth):
        src, out = loops.arg_pointer(b, args, 0), loops.arg_pointer(b, args, 1)
        with loops.for_range(b, 0, size, lanes, name="sum") as i:
            mask = channel_mask(b, size, i, lanes)
            v = loops.masked_load(b, byte_offset(b, src, i, pdt), pdt, mask, lanes)
            for t in range(1, threads):
                v = b.fadd(v, loops.masked_load(b, byte_offset(
                    b, src, b.add(i, I64(t * size)), pdt), pdt, mask, lanes))
            loops.masked_store(b, narrow(b, v, dtype), byte_offset(b, out, i, dtype), dtype,
                               mask, lanes)
    loops.define_kernel(module, name, body, False)


# -- conv_input_grad ---------------------------------------------------------------------

def _lower_input_grad(module, node, info, lowering):
    anchor = info.anchor
    geo = _geometry(anchor)
    if anchor.attrs["groups"] != 1:
        cin = anchor.outputs[0].type.shape[-1]     # the geometry's channels are per group
        return _lower_grouped_grad(module, node, info, lowering, _emit_grouped_input_grad,
                                   replace(geo, channels=cin))
    dtype = anchor.outputs[0].type.dtype
    ct_param, w_param = anchor.operands
    product = anchor.outputs[0]
    cout = ct_param.type.shape[-1]
    key, finish = _product_then_epilogue(node, info, product, lowering)
    name = _name(info, lowering)
    images = _images_per_chunk(geo, dtype)
    if images:
        ws = _emit_chunked_input_grad(module, name, geo, dtype, cout, images)
        lowering.subkernels.append(SubKernel(
            name, [_operand_key(info, ct_param), _operand_key(info, w_param), key],
            workspace=ws))
    else:   # one image's patch matrix is too big for a chunk: the whole one in scratch
        m, k = geo.out_rows, geo.patch_cols
        lowering.scratch.append(((m, k), dtype))
        cols_key = ("scratch", len(lowering.scratch) - 1)
        spec = emit_matmul(module, name, transpose_b(MatmulShape(m=m, k=cout, n=k,
                                                                 dtype=dtype)))
        lowering.subkernels.append(SubKernel(
            name, [_operand_key(info, ct_param), _operand_key(info, w_param), cols_key],
            workspace=spec.workspace_bytes))
        name = _name(info, lowering)
        emit_col2im(module, name, geo, dtype)
        lowering.subkernels.append(SubKernel(name, [cols_key, key]))
    finish(module)


INPUT_GRAD_CHUNK_BYTES = 4 << 20   # at most this much patch matrix per chunk of images


def _images_per_chunk(geo, dtype):
    per_image = math.prod(geo.out) * geo.patch_cols * dtypes.itemsize(dtype)
    if per_image > INPUT_GRAD_CHUNK_BYTES:
        return 0
    images = max(1, (CHUNK_BYTES * 2) // max(1, per_image))
    return min(images, max(1, geo.batch // parallel.num_threads()))


def _emit_chunked_input_grad(module, name, geo, dtype, cout, images):
    """`name(args = [ct, w, dx, workspace])`; returns workspace bytes. Threads split the
    images in chunks; per chunk, the patch rows of those images, cols = ct @ w^T, go to
    the thread's workspace (one GEMM, w^T packed once per thread), and a col2im gathers
    them into those images of dx: each image is written by one thread only."""
    k = geo.patch_cols
    item = dtypes.itemsize(dtype)
    per_image = math.prod(geo.out)
    n_chunks = -(-geo.batch // images)
    threads = parallel.num_threads()
    gemm = _ConvGemm(module, dtype, cout, k)
    packed_b = _round_up(gemm.packed_b_bytes, 64)
    slot = packed_b + _round_up(images * per_image * k * item, 64)
    col2im = _emit_col2im_images(module, f"{name}.col2im", geo, dtype)
    flops = 2 * geo.out_rows * k * cout
    par = threads > 1 and n_chunks > 1 and flops >= 8 * parallel.MIN_PARALLEL_WORK

    def body(b, args, tid, nth):
        ct, w, dx = (loops.arg_pointer(b, args, i) for i in range(3))
        ws = loops.arg_pointer(b, args, 3)
        nth = smin(b, nth, ir.IntType(32)(threads))
        with b.if_then(b.icmp_signed("<", tid, nth)):
            bp = b.gep(ws, [b.mul(b.sext(tid, I64), I64(slot))], source_etype=ir.IntType(8))
            cols = b.gep(bp, [I64(packed_b)], source_etype=ir.IntType(8))
            c0, c1 = parallel.split_range(b, tid, nth, I64(n_chunks))
            with b.if_then(b.icmp_signed("<", c0, c1)):
                gemm.pack_b(b, w, bp, strides=(1, cout))    # B = w^T: (Cout, K)
                with loops.for_range(b, c0, c1, name="chunk") as c:
                    n0 = b.mul(c, I64(images))
                    n1 = smin(b, b.add(n0, I64(images)), I64(geo.batch))
                    r0 = b.mul(n0, I64(per_image))
                    a = byte_offset(b, ct, b.mul(r0, I64(cout)), dtype)
                    gemm.block(b, a, bp, I64(0), b.mul(b.sub(n1, n0), I64(per_image)), [],
                               cols)
                    b.call(col2im, [cols, dx, n0, n1])
    loops.define_kernel(module, name, body, par)
    return slot * threads


def _emit_col2im_images(module, fname, geo, dtype):
    """Internal `void fname(ptr cols, ptr dx, i64 n0, i64 n1)`: dx of images [n0, n1) from
    their patch rows (cols starts at image n0's first row)."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, I64, I64]), fname)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    cols, dx, n0, n1 = fn.args
    lanes = lanes_for(dtype)
    image = math.prod(geo.spatial)

    def term(b, ins, n, o, kf, ch, mask):
        row = flat_index(b, [b.sub(n, n0)] + o, [geo.batch] + list(geo.out))
        off = b.add(b.add(b.mul(row, I64(geo.patch_cols)), b.mul(kf, I64(geo.channels))), ch)
        v = loops.masked_load(b, byte_offset(b, ins[0], off, dtype), dtype, mask, lanes)
        return b.select(mask, v, const(v.type, 0.0))
    _gather_positions(b, geo, dtype, [cols], dx, b.mul(n0, I64(image)),
                      b.mul(n1, I64(image)), term)
    b.ret_void()
    return fn


def window_inputs(b, geo, o, ks):
    """For output coords `o` and window offsets `ks`: (valid i1, input coords) of the input
    element that window position reads: i = o*s - lo + k*d, valid when inside the input
    (zip stops at the shorter list, so a prefix of the window dims may be given)."""
    valid = const(ir.IntType(1), 1)
    coords = []
    for j, (oj, k) in enumerate(zip(o, ks)):
        i = b.add(b.sub(b.mul(oj, I64(geo.strides[j])), I64(geo.pads[j][0])),
                  b.mul(k, I64(geo.dilation[j])))
        valid = b.and_(valid, b.and_(b.icmp_signed(">=", i, I64(0)),
                                     b.icmp_signed("<", i, I64(geo.spatial[j]))))
        coords.append(i)
    return valid, coords


def input_row(b, x, geo, n, coords, dtype):
    """Pointer to the channel vector of image `n` at input `coords` (NHWC)."""
    return byte_offset(b, x, b.mul(flat_index(b, [n] + coords, [geo.batch] + list(geo.spatial)),
                                   I64(geo.channels)), dtype)


def window_sources(b, geo, coords, ks):
    """For input coords and window offsets: (valid i1, output coords) of the window that
    reads that input element at that offset: o = (i + lo - k*d) / s, when exact and in
    range."""
    valid = const(ir.IntType(1), 1)
    outs = []
    for j, (i, k) in enumerate(zip(coords, ks)):
        t = b.sub(b.add(i, I64(geo.pads[j][0])), b.mul(k, I64(geo.dilation[j])))
        s = geo.strides[j]
        o = b.sdiv(t, I64(s)) if s != 1 else t
        ok = b.and_(b.icmp_signed(">=", t, I64(0)), b.icmp_signed("<", o, I64(geo.out[j])))
        if s != 1:
            ok = b.and_(ok, b.icmp_signed("==", b.srem(t, I64(s)), I64(0)))
        valid = b.and_(valid, ok)
        outs.append(o)
    return valid, outs


def emit_window_gather(module, name, geo, dtype, n_in, term, parallel_rows=True):
    """Kernel `name(args = [inputs (n_in)..., out])`, out (N, *spatial, C): every input
    element is the sum, over the windows that read it, of `term(b, ins, n, o, k_flat, c,
    mask)` (a vector of `lanes` channels starting at c). Threads split input positions."""
    work = geo.in_rows * geo.channels * geo.kprod * dtypes.itemsize(dtype)
    par = parallel_rows and work >= parallel.MIN_PARALLEL_WORK

    def body(b, args, tid, nth):
        ins = [loops.arg_pointer(b, args, i) for i in range(n_in)]
        out = loops.arg_pointer(b, args, n_in)
        p0, p1 = parallel.split_range(b, tid, nth, I64(geo.in_rows))
        _gather_positions(b, geo, dtype, ins, out, p0, p1, term)
    loops.define_kernel(module, name, body, par)


def _gather_positions(b, geo, dtype, ins, out, p0, p1, term):
    """The loops of emit_window_gather over input positions [p0, p1)."""
    lanes = lanes_for(dtype)
    c = geo.channels
    vty = vector_of(memory_type(dtype), lanes)
    acc = loops._entry_alloca(b, vty, "acc")
    with loops.for_range(b, p0, p1, name="pos") as p:
        pos = _decompose(b, p, [geo.batch] + list(geo.spatial))
        n, coords = pos[0], pos[1:]
        with loops.for_range(b, 0, c, lanes, name="ch") as ch:
            mask = channel_mask(b, c, ch, lanes)
            b.store(const(vty, 0.0), acc)
            with nested_ranges(b, geo.window, "k") as ks:
                valid, o = window_sources(b, geo, coords, ks)
                with b.if_then(valid):
                    kf = flat_index(b, ks, geo.window)
                    v = term(b, ins, n, o, kf, ch, mask)
                    b.store(b.fadd(b.load(acc, typ=vty), v), acc)
            dst = byte_offset(b, out, b.add(b.mul(p, I64(c)), ch), dtype)
            loops.masked_store(b, b.load(acc, typ=vty), dst, dtype, mask, lanes)


def emit_col2im(module, name, geo, dtype):
    """Kernel `name(args = [cols, dx])`: overlap-add of the patch matrix into the input."""
    lanes = lanes_for(dtype)

    def term(b, ins, n, o, kf, ch, mask):
        row = flat_index(b, [n] + o, [geo.batch] + list(geo.out))
        off = b.add(b.add(b.mul(row, I64(geo.patch_cols)), b.mul(kf, I64(geo.channels))), ch)
        v = loops.masked_load(b, byte_offset(b, ins[0], off, dtype), dtype, mask, lanes)
        return b.select(mask, v, const(v.type, 0.0))
    emit_window_gather(module, name, geo, dtype, 1, term)


# -- grouped conv gradients -------------------------------------------------------------------
#
# Direct loops, like the grouped forward conv. With g(oc) = oc // Cog (Cog = Cout / groups):
#     dx[n, i, g*Cg + c] = sum over (k, o) with i = o*s - lo + k*d, and j < Cog, of
#                          ct[n, o, g*Cog + j] * w[k, c, g*Cog + j]
#     dw[k, c, oc]       = sum over (n, o) of x[n, o*s - lo + k*d, g(oc)*Cg + c] * ct[n, o, oc]

def _lower_grouped_grad(module, node, info, lowering, emit, geo):
    anchor = info.anchor
    key, finish = _product_then_epilogue(node, info, anchor.outputs[0], lowering)
    name = _name(info, lowering)
    groups = anchor.attrs["groups"]
    emit(module, name, geo, anchor.outputs[0].type.dtype, groups,
         tuple(anchor.operands[1].type.shape) if anchor.op == "conv_input_grad"
         else tuple(anchor.outputs[0].type.shape))
    lowering.subkernels.append(SubKernel(
        name, [_operand_key(info, v) for v in anchor.operands] + [key]))
    finish(module)


def _lane_channels(b, start, lanes):
    return b.add(splat(b, start, lanes), ir.Constant(ir.VectorType(I64, lanes),
                                                     list(range(lanes))))


def _emit_grouped_input_grad(module, name, geo, dtype, groups, w_shape):
    """args = [ct, w, dx]; geo.channels = Cin."""
    lanes = lanes_for(dtype)
    vty = vector_of(memory_type(dtype), lanes)
    cg, cout = w_shape[-2], w_shape[-1]
    cog = cout // groups
    sp = lambda b, v: splat(b, I64(v), lanes)  # noqa: E731

    def term(b, ins, n, o, kf, ch, mask):
        ct, w = ins
        row = flat_index(b, [n] + o, [geo.batch] + list(geo.out))
        ci = _lane_channels(b, ch, lanes)
        g, c = b.sdiv(ci, sp(b, cg)), b.srem(ci, sp(b, cg))
        acc = const(vty, 0.0)
        for j in range(cog):
            oc = b.add(b.mul(g, sp(b, cog)), sp(b, j))
            ctv = loops.gather(b, ct, dtype, b.add(b.mul(splat(b, row, lanes), sp(b, cout)), oc),
                               mask, lanes)
            wi = b.add(b.mul(b.add(b.mul(splat(b, kf, lanes), sp(b, cg)), c), sp(b, cout)), oc)
            wv = loops.gather(b, w, dtype, wi, mask, lanes)
            acc = call_intrinsic(b, "fma", b.select(mask, ctv, const(vty, 0.0)),
                                 b.select(mask, wv, const(vty, 0.0)), acc)
        return acc
    emit_window_gather(module, name, geo, dtype, 2, term)


def _emit_grouped_filter_grad(module, name, geo, dtype, groups, dw_shape):
    """args = [x, ct, dw]: threads split the (window offset, c) rows of dw; each row is
    zeroed, then accumulates x * ct over every output position."""
    lanes = lanes_for(dtype)
    vty = vector_of(memory_type(dtype), lanes)
    cg, cout = dw_shape[-2], dw_shape[-1]
    cog = cout // groups
    n_rows = geo.kprod * cg
    work = geo.out_rows * n_rows * cout * dtypes.itemsize(dtype)
    sp = lambda b, v: splat(b, I64(v), lanes)  # noqa: E731

    def body(b, args, tid, nth):
        x, ct, dw = (loops.arg_pointer(b, args, i) for i in range(3))
        r0, r1 = parallel.split_range(b, tid, nth, I64(n_rows))
        with loops.for_range(b, r0, r1, name="dwrow") as r:
            kf, c = b.sdiv(r, I64(cg)), b.srem(r, I64(cg))
            ks = _decompose(b, kf, list(geo.window))
            dst = byte_offset(b, dw, b.mul(r, I64(cout)), dtype)
            fill_run(b, dst, I64(cout), dtype, lanes)
            with loops.for_range(b, 0, geo.out_rows, name="dwpos") as p:
                pos = _decompose(b, p, [geo.batch] + list(geo.out))
                n, o = pos[0], pos[1:]
                valid, coords = window_inputs(b, geo, o, ks)
                with b.if_then(valid):
                    xrow = input_row(b, x, geo, n, coords, dtype)
                    with loops.for_range(b, 0, cout, lanes, name="dwoc") as oc:
                        mask = channel_mask(b, cout, oc, lanes)
                        ocs = _lane_channels(b, oc, lanes)
                        xi = b.add(b.mul(b.sdiv(ocs, sp(b, cog)), sp(b, cg)), splat(b, c, lanes))
                        xv = b.select(mask, loops.gather(b, xrow, dtype, xi, mask, lanes),
                                      const(vty, 0.0))
                        ctv = loops.masked_load(b, byte_offset(
                            b, ct, b.add(b.mul(p, I64(cout)), oc), dtype), dtype, mask, lanes)
                        d = byte_offset(b, dst, oc, dtype)
                        cur = loops.masked_load(b, d, dtype, mask, lanes)
                        loops.masked_store(b, call_intrinsic(b, "fma", xv, ctv, cur), d, dtype,
                                           mask, lanes)
    loops.define_kernel(module, name, body, work >= parallel.MIN_PARALLEL_WORK)


_LOWERINGS = {
    "conv": _lower_forward,
    "conv_filter_grad": _lower_filter_grad,
    "conv_input_grad": _lower_input_grad,
}
