"""Native lowering of the pooling primitives (channels-last, 1-3 spatial dims).

    max_pool(x)            out[o] = max of the window (padding reads the dtype's lowest)
    avg_pool(x)            out[o] = sum of the real elements / their count (TF's "same")
    max_pool_select(x, g)  out[o] = g at the window's first argmax of x (0 at padding)
    max_pool_grad(x, ct)   dx = ct[o] added at each window's first argmax of x
    avg_pool_grad(ct)      dx[i] = sum over the windows o reading i of ct[o] / count(o)

Channels are contiguous, so every kernel works on vectors of channels (a masked tail when C
is not a multiple of the vector width) and threads split the positions. The argmax is the
eager kernel's exactly: the first maximum in window order, NaN counting as a maximum, a
padded position taking part with the lowest value (so a window of -inf picks its first
element, as NumPy does).

max_pool_grad scatters: each thread owns whole images (zeroes them, then adds every window's
cotangent at its argmax), so no two threads write the same element. avg_pool_grad gathers
(conv.emit_window_gather, as col2im).

float16 (the mixed_float16 policy) is computed in LLVM's half type: each add and divide is
rounded to float16, as NumPy's float16 kernels round theirs (the max ops only select).
"""
import numpy as np
from llvmlite import ir

from graphkit import dtypes
from graphkit.codegen import loops, parallel
from graphkit.codegen.conv import (
    byte_offset, channel_mask, emit_window_gather, fill_run, flat_index, lanes_for,
    nested_ranges, smax, smin, windows)
from graphkit.codegen.llvm_types import I1, I64, const, memory_type, splat, vector_of
from graphkit.codegen.lower_kernel import SubKernel, Unsupported
from graphkit.codegen.reduction import _decompose

POOL_OPS = ("max_pool", "avg_pool", "max_pool_grad", "max_pool_select", "avg_pool_grad")


def lower_pool(module, node, info, lowering):
    if len(info.body.nodes) != 1 or info.members[0] not in POOL_OPS:
        raise Unsupported(f"kernel {info.name} (pool): ops {info.members} have no native "
                          "lowering")
    op = info.body.nodes[0]
    dtype = op.outputs[0].type.dtype
    if op.op in ("avg_pool", "avg_pool_grad") and not dtypes.is_float(dtype):
        raise Unsupported(f"kernel {info.name} ({op.op}): dtype {dtype} has no native "
                          "lowering (floats only)")
    if dtype == "bool":
        raise Unsupported(f"kernel {info.name} ({op.op}): dtype {dtype} has no native "
                          "lowering")
    keys = [("value", info.node.operands[info.body.params.index(v)]) for v in op.operands]
    name = f"{info.name}_{len(lowering.subkernels)}"
    geo = _geometry(op)
    _EMITTERS[op.op](module, name, geo, dtype)
    lowering.subkernels.append(SubKernel(name, keys + [("value", node.outputs[0])]))


def _geometry(op):
    a = op.attrs
    x = op.operands[0].type.shape
    if op.op == "avg_pool_grad":      # operand: the pooled cotangent
        spatial, out = tuple(a["input_spatial"]), x[1:-1]
    elif op.op == "max_pool_grad":    # operands: x, the pooled cotangent
        spatial, out = x[1:-1], op.operands[1].type.shape[1:-1]
    else:                             # output: pooled
        spatial, out = x[1:-1], op.outputs[0].type.shape[1:-1]
    n = len(a["window"])
    return windows(spatial, out, a["window"], a["strides"], (1,) * n, a["padding"], x[0],
                   x[-1])


# -- walking windows -----------------------------------------------------------------------

def _input_coords(b, geo, o, ks):
    """(valid i1, input coords) of window offset ks of the window at output coords o."""
    valid = const(I1, 1)
    coords = []
    for j, (oj, k) in enumerate(zip(o, ks)):
        i = b.add(b.sub(b.mul(oj, I64(geo.strides[j])), I64(geo.pads[j][0])), k)
        valid = b.and_(valid, b.and_(b.icmp_signed(">=", i, I64(0)),
                                     b.icmp_signed("<", i, I64(geo.spatial[j]))))
        coords.append(i)
    return valid, coords


def _in_offset(b, geo, n, coords, ch):
    pos = flat_index(b, [n] + coords, [geo.batch] + list(geo.spatial))
    return b.add(b.mul(pos, I64(geo.channels)), ch)


def _out_offset(b, geo, p, ch):
    return b.add(b.mul(p, I64(geo.channels)), ch)


def _per_output(module, name, geo, dtype, n_in, block):
    """Kernel over output positions (split across threads) and channel vectors: `block(b,
    ins, n, o, p, ch, mask)` returns the vector stored at out[p, ch:ch+lanes]."""
    lanes = lanes_for(dtype)
    c = geo.channels
    work = geo.out_rows * c * geo.kprod * dtypes.itemsize(dtype)

    def body(b, args, tid, nth):
        ins = [loops.arg_pointer(b, args, i) for i in range(n_in)]
        out = loops.arg_pointer(b, args, n_in)
        p0, p1 = parallel.split_range(b, tid, nth, I64(geo.out_rows))
        with loops.for_range(b, p0, p1, name="pos") as p:
            pos = _decompose(b, p, [geo.batch] + list(geo.out))
            with loops.for_range(b, 0, c, lanes, name="ch") as ch:
                mask = loops.lane_mask(b, b.sub(I64(c), ch), lanes)
                v = block(b, ins, pos[0], pos[1:], p, ch, mask)
                loops.masked_store(b, v, byte_offset(b, out, _out_offset(b, geo, p, ch), dtype),
                                   dtype, mask, lanes)
    loops.define_kernel(module, name, body, work >= parallel.MIN_PARALLEL_WORK)


def _lowest(dtype):
    return float("-inf") if dtypes.is_float(dtype) else int(np.iinfo(dtype).min)


def _greater(b, v, best, dtype):
    """v > best, with NaN beating any number (NumPy's max and argmax propagate NaN)."""
    if not dtypes.is_float(dtype):
        cmp = b.icmp_signed if dtypes.is_int(dtype) and dtype.startswith("int") else \
            b.icmp_unsigned
        return cmp(">", v, best)
    gt = b.fcmp_ordered(">", v, best)
    nan_over_number = b.and_(b.fcmp_unordered("uno", v, v), b.fcmp_ordered("ord", best, best))
    return b.or_(gt, nan_over_number)


def _argmax_walk(b, geo, dtype, x, n, o, ch, mask, visit):
    """Walk the window of output o in order, tracking the running max in `best` (a slot);
    `visit(b, valid, coords, kf, take)` runs at every offset, `take` (lanes x i1) set where
    this offset becomes the argmax so far."""
    lanes = lanes_for(dtype)
    vty = vector_of(memory_type(dtype), lanes)
    best = loops._entry_alloca(b, vty, "best")
    lowest = const(vty, _lowest(dtype))
    b.store(lowest, best)
    with nested_ranges(b, geo.window, "k") as ks:
        valid, coords = _input_coords(b, geo, o, ks)
        kf = flat_index(b, ks, geo.window)
        v_slot = loops._entry_alloca(b, vty, "v")
        b.store(lowest, v_slot)
        with b.if_then(valid):
            ptr = byte_offset(b, x, _in_offset(b, geo, n, coords, ch), dtype)
            b.store(loops.masked_load(b, ptr, dtype, mask, lanes), v_slot)
        v = b.load(v_slot, typ=vty)
        cur = b.load(best, typ=vty)
        first = splat(b, b.icmp_signed("==", kf, I64(0)), lanes)
        take = b.or_(first, _greater(b, v, cur, dtype))
        b.store(b.select(take, v, cur), best)
        visit(b, valid, coords, kf, take)
    return b.load(best, typ=vty)


# -- forward pools ---------------------------------------------------------------------------

def emit_max_pool(module, name, geo, dtype):
    def block(b, ins, n, o, p, ch, mask):
        return _argmax_walk(b, geo, dtype, ins[0], n, o, ch, mask, lambda *a: None)
    _per_output(module, name, geo, dtype, 1, block)


def _window_count(b, geo, o):
    """How many real (unpadded) elements the window at o covers."""
    count = I64(1)
    for j, oj in enumerate(o):
        start = b.sub(b.mul(oj, I64(geo.strides[j])), I64(geo.pads[j][0]))
        lo = smax(b, start, I64(0))
        hi = smin(b, b.add(start, I64(geo.window[j])), I64(geo.spatial[j]))
        count = b.mul(count, smax(b, b.sub(hi, lo), I64(0)))
    return count


def emit_avg_pool(module, name, geo, dtype):
    lanes = lanes_for(dtype)
    vty = vector_of(memory_type(dtype), lanes)

    def block(b, ins, n, o, p, ch, mask):
        acc = loops._entry_alloca(b, vty, "acc")
        b.store(const(vty, 0.0), acc)
        with nested_ranges(b, geo.window, "k") as ks:
            valid, coords = _input_coords(b, geo, o, ks)
            with b.if_then(valid):
                ptr = byte_offset(b, ins[0], _in_offset(b, geo, n, coords, ch), dtype)
                v = loops.masked_load(b, ptr, dtype, mask, lanes)
                b.store(b.fadd(b.load(acc, typ=vty), v), acc)
        count = b.sitofp(_window_count(b, geo, o), memory_type(dtype))
        return b.fdiv(b.load(acc, typ=vty), splat(b, count, lanes))
    _per_output(module, name, geo, dtype, 1, block)


def emit_max_pool_select(module, name, geo, dtype):
    lanes = lanes_for(dtype)
    vty = vector_of(memory_type(dtype), lanes)

    def block(b, ins, n, o, p, ch, mask):
        sel = loops._entry_alloca(b, vty, "sel")
        b.store(const(vty, 0), sel)

        def visit(b, valid, coords, kf, take):
            g_slot = loops._entry_alloca(b, vty, "g")
            b.store(const(vty, 0), g_slot)
            with b.if_then(valid):
                ptr = byte_offset(b, ins[1], _in_offset(b, geo, n, coords, ch), dtype)
                b.store(loops.masked_load(b, ptr, dtype, mask, lanes), g_slot)
            b.store(b.select(take, b.load(g_slot, typ=vty), b.load(sel, typ=vty)), sel)
        _argmax_walk(b, geo, dtype, ins[0], n, o, ch, mask, visit)
        return b.load(sel, typ=vty)
    _per_output(module, name, geo, dtype, 2, block)


# -- gradients -------------------------------------------------------------------------------

def emit_max_pool_grad(module, name, geo, dtype):
    """args = [x, ct, dx]: threads own whole images; zero them, then add each window's
    cotangent at its argmax (two walks: find the argmax offsets, then add there). Windows
    that tile the input (strides == window, no padding) never share an element: each
    writes its elements once, without reading dx, and only an uncovered border is
    zeroed."""
    lanes = lanes_for(dtype)
    vty = vector_of(memory_type(dtype), lanes)
    ity = ir.VectorType(I64, lanes)
    c = geo.channels
    image = int(np.prod(geo.spatial)) * c
    out_image = int(np.prod(geo.out))
    work = geo.in_rows * c * dtypes.itemsize(dtype) * geo.kprod
    tiling = geo.strides == geo.window and all(p == (0, 0) for p in geo.pads)
    covered = tiling and all(o * k == s for o, k, s in zip(geo.out, geo.window, geo.spatial))
    mask_of = (lambda b, ch: channel_mask(b, c, ch, lanes))  # noqa: E731

    def body(b, args, tid, nth):
        x, ct, dx = (loops.arg_pointer(b, args, i) for i in range(3))
        n0, n1 = parallel.split_range(b, tid, nth, I64(geo.batch))
        if not covered:
            fill_run(b, byte_offset(b, dx, b.mul(n0, I64(image)), dtype),
                     b.mul(b.sub(n1, n0), I64(image)), dtype, lanes)
        arg = loops._entry_alloca(b, ity, "arg")
        with loops.for_range(b, b.mul(n0, I64(out_image)), b.mul(n1, I64(out_image)),
                             name="pos") as p:
            pos = _decompose(b, p, [geo.batch] + list(geo.out))
            n, o = pos[0], pos[1:]
            with loops.for_range(b, 0, c, lanes, name="ch") as ch:
                mask = mask_of(b, ch)
                b.store(const(ity, 0), arg)

                def visit(b, valid, coords, kf, take):
                    b.store(b.select(take, splat(b, kf, lanes), b.load(arg, typ=ity)), arg)
                _argmax_walk(b, geo, dtype, x, n, o, ch, mask, visit)
                g = loops.masked_load(b, byte_offset(b, ct, _out_offset(b, geo, p, ch), dtype),
                                      dtype, mask, lanes)
                best_k = b.load(arg, typ=ity)
                with nested_ranges(b, geo.window, "kg") as ks:
                    valid, coords = _input_coords(b, geo, o, ks)
                    kf = flat_index(b, ks, geo.window)
                    with b.if_then(valid):
                        hit = b.and_(b.icmp_signed("==", best_k, splat(b, kf, lanes)), mask)
                        ptr = byte_offset(b, dx, _in_offset(b, geo, n, coords, ch), dtype)
                        add = b.select(hit, g, const(vty, 0))
                        if not tiling:
                            cur = loops.masked_load(b, ptr, dtype, mask, lanes)
                            add = b.fadd(cur, add) if dtypes.is_float(dtype) else b.add(cur, add)
                        loops.masked_store(b, add, ptr, dtype, mask, lanes)
    loops.define_kernel(module, name, body, work >= parallel.MIN_PARALLEL_WORK)


def emit_avg_pool_grad(module, name, geo, dtype):
    """args = [ct, dx]: each input element gathers ct[o] / count(o) of the windows reading
    it."""
    lanes = lanes_for(dtype)

    def term(b, ins, n, o, kf, ch, mask):
        row = flat_index(b, [n] + o, [geo.batch] + list(geo.out))
        v = loops.masked_load(b, byte_offset(b, ins[0], _out_offset(b, geo, row, ch), dtype),
                              dtype, mask, lanes)
        count = b.sitofp(_window_count(b, geo, o), memory_type(dtype))
        return b.select(mask, b.fdiv(v, splat(b, count, lanes)), const(v.type, 0.0))
    emit_window_gather(module, name, geo, dtype, 1, term)


_EMITTERS = {
    "max_pool": emit_max_pool,
    "avg_pool": emit_avg_pool,
    "max_pool_select": emit_max_pool_select,
    "max_pool_grad": emit_max_pool_grad,
    "avg_pool_grad": emit_avg_pool_grad,
}
