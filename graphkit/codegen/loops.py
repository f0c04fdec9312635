"""Loop and memory helpers shared by the kernel emitters.

Kernel ABI (every emitter): `void @name(ptr %args)` where %args points to an array of data
pointers, inputs first, then outputs. The work itself is in `@name.task(ptr %args, i32 tid,
i32 nthreads)` (see parallel.py), which `@name` calls directly or through the thread pool.
"""
import contextlib

from llvmlite import ir

from graphkit import dtypes
from graphkit.codegen import parallel
from graphkit.codegen.target import host_target
from graphkit.codegen.llvm_types import (
    I1, I32, I64, PTR, VOID, const, intrinsic, memory_type, type_suffix,
    vector_of, zeros)


@contextlib.contextmanager
def for_range(builder, start, stop, step=1, name="i", llvm_unroll=False):
    """`for i in range(start, stop, step)` (i64); yields i; the body is emitted in the with.

    The loop is marked not to be unrolled (nor vectorized again, when its body is vector
    code; see `_loop_id`); `llvm_unroll=True` leaves it to LLVM's unroller and vectorizer."""
    b = builder
    fn = b.function
    start = start if isinstance(start, ir.Value) else I64(start)
    stop = stop if isinstance(stop, ir.Value) else I64(stop)
    if (_is_const(start) and _is_const(stop) and isinstance(step, int)
            and 0 < stop.constant - start.constant <= step):
        # one iteration: the body without a loop (less IR, one loop level less for LLVM)
        yield start
        return
    var = _entry_alloca(b, I64, name)
    b.store(start, var)
    head, body, done = (fn.append_basic_block(f"{name}.{k}") for k in ("head", "body", "done"))
    b.branch(head)
    b.position_at_end(head)
    i = b.load(var, typ=I64)
    b.cbranch(b.icmp_signed("<", i, stop), body, done)
    b.position_at_end(body)
    n_blocks = len(fn.blocks)  # the blocks the body appends come after `done`
    yield i
    step_v = step if isinstance(step, ir.Value) else I64(step)
    b.store(b.add(b.load(var, typ=I64), step_v), var)
    latch = b.branch(head)
    if not llvm_unroll:
        vector_body = _has_vector_code([body] + fn.blocks[n_blocks:])
        latch.set_metadata("llvm.loop", _loop_id(b.module, vector_body))
    b.position_at_end(done)


def _has_vector_code(blocks):
    return any(isinstance(instr.type, ir.VectorType)
               for blk in blocks for instr in blk.instructions)


class _LoopID(ir.values.MDValue):
    """A loop's `distinct !{self, properties...}` node (LLVM finds loop properties through
    the self-reference; llvmlite's own metadata nodes cannot refer to themselves)."""

    def descr(self, buf):
        ops = ", ".join([self.get_reference()] + [op.get_reference() for op in self.operands])
        buf += (f"distinct !{{{ops}}}", "\n")


def _loop_id(module, vector_body):
    """A new loop ID: never unroll; a vector body is not vectorized again, a scalar one is
    vectorized without interleaving.

    Why: the emitters write their loops the way they should run: the matmul microkernel is
    register-tiled, elementwise and reduction strips are vector code. LLVM's unroller, and
    the loop vectorizer's interleaving, would copy such bodies 2-8 times over: several times
    the code to optimize and to emit (most of a cold compile; the W3 train step compiled
    ~3x faster without) for no speed, since the bodies already fill the registers. Each loop
    gets its own distinct ID; the property nodes are shared by the module."""
    props = getattr(module, "_gk_loop_props", None)
    if props is None:
        md = module.add_metadata
        string = ir.MetaDataString
        props = {"unroll": md([string(module, "llvm.loop.unroll.disable")]),
                 "no_vectorize": md([string(module, "llvm.loop.vectorize.enable"), I1(0)]),
                 "no_interleave": md([string(module, "llvm.loop.interleave.count"), I32(1)])}
        module._gk_loop_props = props
    second = props["no_vectorize"] if vector_body else props["no_interleave"]
    return _LoopID(module, [props["unroll"], second], name=str(len(module.metadata)))


def _entry_alloca(b, ty, name):
    """Allocas go in the entry block so that mem2reg turns them into registers."""
    fn = b.function
    entry = fn.entry_basic_block
    saved = b.block
    with b.goto_block(entry):
        if entry.instructions:
            b.position_before(entry.instructions[0])
        slot = b.alloca(ty, name=name)
    b.position_at_end(saved)
    return slot


def arg_pointer(builder, args_ptr, index):
    """The `index`-th data pointer of a kernel's pointer array."""
    return builder.load(builder.gep(args_ptr, [I64(index)], source_etype=PTR), typ=PTR)


def element_ptr(builder, base, dtype, index):
    return builder.gep(base, [index], source_etype=memory_type(dtype))


def load_value(builder, ptr, dtype, lanes):
    """Load `lanes` contiguous elements (a scalar when lanes == 1) as register values."""
    mty = vector_of(memory_type(dtype), lanes)
    v = builder.load(ptr, typ=mty, align=dtypes.itemsize(dtype))
    return to_register(builder, v, dtype)


def to_register(builder, v, dtype):
    if dtype == "bool":
        return builder.icmp_unsigned("!=", v, const(v.type, 0))
    return v


def to_memory(builder, v, dtype, lanes):
    if dtype == "bool":
        return builder.zext(v, vector_of(memory_type(dtype), lanes))
    return v


def store_value(builder, v, ptr, dtype, lanes, streaming=False):
    """Store `lanes` elements. `streaming` (True, or an i1 to branch on): a non-temporal
    store, for which `ptr` must be aligned to the vector's size (see `aligned_vector_loop`;
    `store_fence` after)."""
    v = to_memory(builder, v, dtype, lanes)
    if streaming is False:
        builder.store(v, ptr, align=dtypes.itemsize(dtype))
    elif streaming is True:
        _streaming_store(builder, v, ptr, lanes * dtypes.itemsize(dtype))
    else:
        with builder.if_else(streaming) as (stream, normal):
            with stream:
                _streaming_store(builder, v, ptr, lanes * dtypes.itemsize(dtype))
            with normal:
                builder.store(v, ptr, align=dtypes.itemsize(dtype))


def _streaming_store(builder, v, ptr, align):
    st = builder.store(v, ptr, align=align)
    st.set_metadata("nontemporal", _nontemporal_md(builder.module))


def _nontemporal_md(module):
    """The `!{i32 1}` node LLVM reads as "non-temporal" on a store (one per module)."""
    md = getattr(module, "_gk_nontemporal", None)
    if md is None:
        md = module._gk_nontemporal = module.add_metadata([I32(1)])
    return md


def store_fence(builder):
    """`sfence`: orders this thread's non-temporal (weakly ordered) stores before whatever it
    does next, such as telling the pool its task is done (x86 only)."""
    fn = intrinsic(builder.module, "llvm.x86.sse.sfence", VOID, [])
    builder.call(fn, [])


def masked_load(builder, ptr, dtype, mask, lanes):
    mty = vector_of(memory_type(dtype), lanes)
    fn = intrinsic(builder.module, f"llvm.masked.load.{type_suffix(mty)}.p0", mty,
                   [PTR, I32, mask.type, mty])
    v = builder.call(fn, [ptr, I32(1), mask, zeros(mty)])
    return to_register(builder, v, dtype)


def masked_store(builder, v, ptr, dtype, mask, lanes):
    """Store the lanes of `v` that `mask` selects. Without AVX-512's mask registers a masked
    store is microcode (vmaskmovps: ~40 uops on Zen 3; an Adam epilogue's three of them
    doubled its GEMM's time), so there a run-time all-lanes test takes a plain store."""
    v = to_memory(builder, v, dtype, lanes)
    fn = intrinsic(builder.module, f"llvm.masked.store.{type_suffix(v.type)}.p0", VOID,
                   [v.type, PTR, I32, mask.type])
    if isinstance(mask, ir.Constant) or host_target().has_avx512:
        builder.call(fn, [v, ptr, I32(1), mask])
        return
    every_lane = builder.icmp_unsigned(
        "==", builder.bitcast(mask, ir.IntType(lanes)), ir.Constant(ir.IntType(lanes), -1))
    with builder.if_else(every_lane) as (whole, part):
        with whole:
            builder.store(v, ptr, align=1)
        with part:
            builder.call(fn, [v, ptr, I32(1), mask])


def gather(builder, base, dtype, index_vec, mask, lanes):
    """Load base[index_vec[k]] for each lane k where mask is set."""
    from graphkit.codegen.llvm_types import splat
    mty = vector_of(memory_type(dtype), lanes)
    pty = ir.VectorType(PTR, lanes)
    # addresses as integers (llvmlite types a vector-index gep as a scalar pointer)
    base_int = splat(builder, builder.ptrtoint(base, I64), lanes)
    offsets = builder.mul(index_vec, const(index_vec.type, dtypes.itemsize(dtype)))
    ptrs = builder.inttoptr(builder.add(base_int, offsets), pty)
    fn = intrinsic(builder.module, f"llvm.masked.gather.{type_suffix(mty)}.v{lanes}p0", mty,
                   [pty, I32, mask.type, mty])
    v = builder.call(fn, [ptrs, I32(1), mask, zeros(mty)])
    return to_register(builder, v, dtype)


def lane_mask(builder, count, lanes):
    """<lanes x i1> with the first `count` (i64) lanes set."""
    from graphkit.codegen.llvm_types import iota, splat
    idx = iota(ir.VectorType(I64, lanes))
    return builder.icmp_signed("<", idx, splat(builder, count, lanes))


def vector_loop(b, begin, end, lanes, step):
    """step(j, mask) over [begin, end) `lanes` at a time (i64 bounds); the last, partial
    step gets a lane mask, full steps get None."""
    if lanes == 1:
        with for_range(b, begin, end, name="j") as j:
            step(j, None)
        return
    if _is_const(begin) and _is_const(end):
        _static_vector_loop(b, begin.constant, end.constant, lanes, step)
        return
    vec_end = b.sub(end, b.urem(b.sub(end, begin), I64(lanes)))
    with for_range(b, begin, vec_end, lanes, name="j") as j:
        step(j, None)
    rest = b.sub(end, vec_end)
    with b.if_then(b.icmp_signed(">", rest, I64(0))):
        step(vec_end, lane_mask(b, rest, lanes))


def aligned_vector_loop(b, begin, end, lanes, outputs, inputs, step):
    """vector_loop for non-temporal stores: step(j, mask, streaming) over [begin, end). Full
    steps get `streaming`, one i1 per output: may its vector at j be stored non-temporally
    (it starts on a multiple of the vector's size, and streaming is not slow there:
    `_stream_hazard`)? Masked steps get None (normal stores).

    `outputs` and `inputs` (the operands read with vector loads) are [(pointer to element 0,
    dtype)]. The full steps start at the first index where the first widest output is
    aligned, when it may stream (else at `begin`); a masked step covers the elements before
    (the peel). The other outputs move in step with it, so each is aligned in every full step
    exactly when it is in the first. Why check rather than assume: an aligned non-temporal
    store (vmovntps) to an unaligned address faults, and NumPy's buffers are only 16-byte
    aligned.

    The step's body is emitted twice, as with vector_loop: once in the full-step loop (each
    store branches on its flag: loop-invariant, perfectly predicted) and once in a
    two-iteration loop over the masked peel and tail. Why not a loop per case: each copy is
    the whole inlined expression, and LLVM time (W2 compiled in ~2x the time with five)."""
    def may_stream(p, dt, at):
        addr = b.ptrtoint(element_ptr(b, p, dt, at), I64)
        misaligned = b.and_(addr, I64(lanes * dtypes.itemsize(dt) - 1))
        return b.and_(b.icmp_unsigned("==", misaligned, I64(0)),
                      b.not_(_stream_hazard(b, p, dt, inputs, lanes)))

    ref_ptr, ref_dt = max(outputs, key=lambda o: dtypes.itemsize(o[1]))
    isz = dtypes.itemsize(ref_dt)
    addr0 = b.ptrtoint(element_ptr(b, ref_ptr, ref_dt, begin), I64)
    peel = b.udiv(b.and_(b.sub(I64(0), addr0), I64(lanes * isz - 1)), I64(isz))
    n = b.sub(end, begin)
    peel = b.select(b.icmp_unsigned("<", peel, n), peel, n)
    peel = b.select(may_stream(ref_ptr, ref_dt, b.add(begin, peel)), peel, I64(0))
    start = b.add(begin, peel)
    streaming = [may_stream(p, dt, start) for p, dt in outputs]
    vec_end = b.sub(end, b.urem(b.sub(end, start), I64(lanes)))
    with for_range(b, start, vec_end, lanes, name="j") as j:
        step(j, None, streaming)
    rest = b.sub(end, vec_end)
    with for_range(b, 0, 2, name="edge") as k:
        first = b.icmp_unsigned("==", k, I64(0))
        count = b.select(first, peel, rest)
        with b.if_then(b.icmp_signed(">", count, I64(0))):
            step(b.select(first, begin, vec_end), lane_mask(b, count, lanes), None)


# Page size as far as 4K aliasing goes: the CPU first compares a load's address with older
# stores by its low 12 bits.
_ALIAS_BYTES = 4096


def _stream_hazard(b, out_ptr, out_dt, inputs, lanes):
    """i1: is streaming `out_ptr` slower than normal stores, given the `inputs` read in the
    same steps (same itemsize; both pointers at element 0)?

    - in place (the output is an input): the step has just read the line into the cache, so
      a normal store costs no extra read, and a streaming one evicts the line (measured:
      in-place x + y on 16 MB, 0.41 ms with normal stores, 0.53 ms streaming);
    - the output 1..vector-1 bytes ahead of an input modulo 4 KB: the next step's loads
      look like they overlap the previous streaming store (4K aliasing), and each waits for
      it (W2, one thread: 6.2 ms streaming, 4.4 ms normal; elsewhere both ~3.9 ms)."""
    vbytes = lanes * dtypes.itemsize(out_dt)
    hazard = I1(0)
    out_addr = b.ptrtoint(out_ptr, I64)
    for p, dt in inputs:
        if dtypes.itemsize(dt) != dtypes.itemsize(out_dt):
            continue  # they drift apart by a step: the offsets above do not stay fixed
        diff = b.sub(out_addr, b.ptrtoint(p, I64))
        ahead = b.and_(b.sub(diff, I64(1)), I64(_ALIAS_BYTES - 1))
        bad = b.or_(b.icmp_unsigned("==", diff, I64(0)),
                    b.icmp_unsigned("<", ahead, I64(vbytes - 1)))
        hazard = b.or_(hazard, bad)
    return hazard


def _is_const(v):
    return isinstance(v, ir.Constant) and isinstance(v.constant, int)


def _static_vector_loop(b, begin, end, lanes, step):
    """vector_loop over bounds known when emitting: only the parts that run are emitted
    (no full-vector loop for fewer than `lanes` elements, no masked tail for a multiple of
    `lanes`, a single full step without a loop: see for_range). Why: each part is a copy
    of the step's whole body, Python and LLVM time for code that never runs."""
    n = max(0, end - begin)
    full = n - n % lanes
    if full:
        with for_range(b, I64(begin), I64(begin + full), lanes, name="j") as j:
            step(j, None)
    if n % lanes:
        step(I64(begin + full), _const_lane_mask(n % lanes, lanes))


def _const_lane_mask(count, lanes):
    """The constant <lanes x i1> with the first `count` lanes set."""
    return ir.Constant(ir.VectorType(I1, lanes), [int(k < count) for k in range(lanes)])


def split_rows(b, tid, nth, rows, inner, align):
    """This thread's share of a (rows, inner) iteration space: (rb, re, jb, je). Threads
    split the rows; a single row is split along `inner` instead, in multiples of `align`
    (whole vectors), so one long row still uses both cores. A single thread (`nth` the
    constant 1) gets constant bounds."""
    if _is_const(nth) and nth.constant == 1:
        return I64(0), I64(rows), I64(0), I64(inner)
    if rows > 1:
        rb, re = parallel.split_range(b, tid, nth, I64(rows))
        return rb, re, I64(0), I64(inner)
    jb, je = parallel.split_range(b, tid, nth, I64(inner), align=align)
    return I64(0), I64(1), jb, je


def strided_offsets(b, index, dims, strides, start=None):
    """Element offsets, one per operand, of flat row-major `index` over `dims`: the index
    is decomposed (innermost dim last) and each coordinate weighted by the operand's stride
    for that axis (`strides[k][axis]`; zero strides broadcast)."""
    offsets = [I64(off) for off in (start or [0] * len(strides))]
    rem = index
    for axis in range(len(dims) - 1, -1, -1):
        d = dims[axis]
        idx = b.urem(rem, I64(d)) if axis > 0 else rem
        rem = b.udiv(rem, I64(d)) if axis > 0 else rem
        for k, st in enumerate(strides):
            if st[axis]:
                offsets[k] = b.add(offsets[k], b.mul(idx, I64(st[axis])))
    return offsets


def define_kernel(module, name, task_body, parallel_ok):
    """Define `@name.task` (body emitted by `task_body(builder, args, tid, nthreads)`) and
    the exported `@name(ptr args)` that runs it (through the pool when `parallel_ok`)."""
    task = ir.Function(module, parallel.TASK_TYPE, f"{name}.task")
    task.linkage = "internal"
    b = ir.IRBuilder(task.append_basic_block("entry"))
    # A task that never runs in the pool is only ever called as task(args, 0, 1): the body
    # gets those constants, so the emitters can drop their thread split (split_rows).
    tid, nth = task.args[1:] if parallel_ok else (I32(0), I32(1))
    task_body(b, task.args[0], tid, nth)
    b.ret_void()
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR]), name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    parallel.emit_task_call(b, task, fn.args[0], parallel_ok)
    b.ret_void()
    return fn


__all__ = ["for_range", "arg_pointer", "element_ptr", "load_value", "store_value",
           "masked_load", "masked_store", "gather", "lane_mask", "define_kernel", "I1",
           "aligned_vector_loop", "store_fence"]
