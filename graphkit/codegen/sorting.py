"""Sorting kernels as native code, bit for bit the eager kernels of graphkit/ops/sorting.py
(`argsort`) and graphkit/ops/random.py (`random_permutation`).

Both sort the indices of a row by a key. Each element becomes one unsigned *composite*
integer `(key << W) | index` (W = the key's width: an i64 composite for keys of up to 32
bits, i128 for 64-bit keys), so that

- the key is an unsigned integer whose order is the order the eager kernel sorts by;
- composites are all distinct and ties are broken by index, which is exactly a stable
  sort: any correct sort of the composites gives the stable argsort, and the sort itself
  (insertion sort of short runs, then a bottom-up merge sort ping-ponging between two
  buffers) needs no stability argument;
- the sorted indices are the low 32 bits of the sorted composites.

Keys, following np.argsort: a float's bits with the sign bit flipped for positives and all
bits flipped for negatives (the usual total order trick), after -0.0 is made +0.0 (NumPy
sees them equal: ties, kept in index order) and with every NaN mapped to the largest key
(NaNs sort last, among themselves in index order). Signed ints flip the sign bit; unsigned
ints and bools are their value. `descending` complements the key: the eager kernel's
flip/argsort/flip is a stable sort by decreasing value with ties (and NaNs, which come
first) in increasing index order, which is an ascending sort of the complemented key with
the index as tie break. `random_permutation(key, n)` sorts the Philox stream's uint32 words
(random.py: the stable argsort of `random_bits(key, (n,))`).

argsort sees its operand as (outer, N, inner) around `axis`; each of the outer * inner rows
is read with stride `inner` into the calling thread's slice of the workspace (two
composite buffers of N), sorted, and its indices written back with the same stride.
Threads split the rows.
"""
import contextlib
import math

from llvmlite import ir

from graphkit import dtypes
from graphkit.codegen import loops, parallel
from graphkit.codegen.llvm_types import F32, I32, I64, PTR, const, memory_type
from graphkit.codegen.lower_kernel import SubKernel, Unsupported
from graphkit.codegen.philox import philox_rounds

KEY_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
              "uint64", "float16", "float32", "float64")
INSERTION_RUN = 16        # runs this long are insertion-sorted before merging
MAX_ROW = 2 ** 31 - 1     # indices are int32


def lower_sorting(module, node, info, lowering):
    """Kind "opaque": the sub-kernel of an `argsort` kernel."""
    op = _single_op(info, "opaque")
    if op.op != "argsort":
        raise Unsupported(f"kernel {info.name} (opaque): op '{op.op}' has no native "
                          "lowering; supported: argsort")
    x = op.operands[0]
    dtype, shape, axis = x.type.dtype, tuple(x.type.shape), op.attrs["axis"]
    if dtype not in KEY_DTYPES:
        raise Unsupported(f"kernel {info.name} (argsort): dtype {dtype} has no native "
                          f"lowering; supported: {', '.join(KEY_DTYPES)}")
    rows = _Rows(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]),
                 _key_width(dtype))
    name = f"{info.name}_{len(lowering.subkernels)}"
    ws = emit_argsort(module, name, rows, dtype, bool(op.attrs["descending"]))
    lowering.subkernels.append(SubKernel(
        name, [("value", info.node.operands[0]), ("value", node.outputs[0])], workspace=ws))


def lower_random_permutation(module, node, info, lowering):
    """Kind "random", op `random_permutation`: Philox words sorted natively."""
    op = _single_op(info, "random")
    n = op.attrs["n"]
    rows = _Rows(1, n, 1, 32)
    name = f"{info.name}_{len(lowering.subkernels)}"
    ws = emit_random_permutation(module, name, rows)
    lowering.subkernels.append(SubKernel(
        name, [("value", info.node.operands[0]), ("value", node.outputs[0])], workspace=ws))


def _single_op(info, kind):
    if len(info.body.nodes) != 1:
        raise Unsupported(f"kernel {info.name} ({kind}): expected one op, found "
                          f"{info.members}")
    return info.body.nodes[0]


def _key_width(dtype):
    return 64 if dtypes.itemsize(dtype) == 8 else 32


class _Rows:
    """The (outer, n, inner) view of the sorted operand and the composite integer type."""

    def __init__(self, outer, n, inner, key_bits):
        if n > MAX_ROW:
            raise Unsupported(f"sorting: rows of {n} elements do not fit int32 indices")
        self.outer, self.n, self.inner = outer, n, inner
        self.count = outer * inner
        self.key_bits = key_bits
        self.comp = ir.IntType(2 * key_bits)
        self.comp_bytes = 2 * key_bits // 8
        self.slot = -(-2 * n * self.comp_bytes // 64) * 64   # two buffers per thread

    def threads(self):
        """Threads the rows are split over (1: the kernel runs on the calling thread)."""
        work = self.count * self.n * self.comp_bytes * max(1, self.n.bit_length())
        if self.count > 1 and work >= parallel.MIN_PARALLEL_WORK:
            return parallel.num_threads()
        return 1

    def compose(self, b, key, index):
        """(key << W) | index as the composite type (key: iW, index: i64 in [0, n))."""
        high = b.shl(b.zext(key, self.comp), const(self.comp, self.key_bits))
        return b.or_(high, b.zext(b.trunc(index, I32), self.comp))


# -- kernels -------------------------------------------------------------------------------

def emit_argsort(module, name, rows, dtype, descending):
    """`name(args = [x, out (int32), workspace])`; returns the workspace bytes."""
    threads = rows.threads()
    sort = _sort_function(module, rows.comp)
    stride = I64(rows.inner)

    def body(b, args, tid, nth):
        x, out, ws = (loops.arg_pointer(b, args, i) for i in range(3))
        nth = _smin(b, nth, I32(threads))   # never more threads than workspace slots
        with b.if_then(b.icmp_signed("<", tid, nth)):
            buf, tmp = _thread_buffers(b, ws, tid, rows)
            r0, r1 = parallel.split_range(b, tid, nth, I64(rows.count))
            with loops.for_range(b, r0, r1, name="row") as r:
                base = _row_base(b, r, rows)
                with loops.for_range(b, I64(0), I64(rows.n), name="k", llvm_unroll=True) as k:
                    p = loops.element_ptr(b, x, _stored(dtype), b.add(base, b.mul(k, stride)))
                    key = sort_key(b, b.load(p, typ=memory_type(_stored(dtype))), dtype,
                                   rows.key_bits)
                    if descending:
                        key = b.not_(key)
                    _store_comp(b, rows, buf, k, rows.compose(b, key, k))
                done = b.call(sort, [buf, tmp, I64(rows.n)])
                _write_indices(b, rows, done, out, base, stride)
    loops.define_kernel(module, name, body, threads > 1)
    return rows.slot * threads


def emit_random_permutation(module, name, rows):
    """`name(args = [key (2 x uint32), out (int32, n), workspace])`; returns workspace bytes.

    Word i of the stream is word i % 4 of the Philox block for counter (i // 4, 0, 0, 0)
    (graphkit/ops/random.py); it is the sort key of index i."""
    n = rows.n
    sort = _sort_function(module, rows.comp)

    def body(b, args, tid, nth):
        key_ptr, out, ws = (loops.arg_pointer(b, args, i) for i in range(3))
        k0 = b.load(key_ptr, typ=I32)
        k1 = b.load(b.gep(key_ptr, [I64(1)], source_etype=I32), typ=I32)
        buf, tmp = _thread_buffers(b, ws, I32(0), rows)
        with loops.for_range(b, I64(0), I64(-(-n // 4)), name="block") as blk:
            lo, hi = b.trunc(blk, I32), b.trunc(b.lshr(blk, I64(32)), I32)
            words = philox_rounds(b, (lo, hi, I32(0), I32(0)), (k0, k1), 1)
            first = b.mul(blk, I64(4))
            for w, word in enumerate(words):
                i = b.add(first, I64(w))
                with b.if_then(b.icmp_signed("<", i, I64(n))):
                    _store_comp(b, rows, buf, i, rows.compose(b, word, i))
        done = b.call(sort, [buf, tmp, I64(n)])
        _write_indices(b, rows, done, out, I64(0), I64(1))
    loops.define_kernel(module, name, body, False)
    return rows.slot


def _stored(dtype):
    return "uint8" if dtype == "bool" else dtype


def sort_key(b, v, dtype, key_bits):
    """An unsigned iW key (W = key_bits) whose order is np.argsort's order of `v`."""
    kty = ir.IntType(key_bits)
    if dtypes.is_float(dtype):
        if dtype == "float16":   # exact, order-preserving
            v = b.fpext(v, F32)
        is_nan = b.fcmp_unordered("uno", v, v)
        v = b.select(b.fcmp_ordered("==", v, ir.Constant(v.type, 0.0)),
                     ir.Constant(v.type, 0.0), v)          # -0.0 -> +0.0: NumPy ties them
        bits = b.bitcast(v, kty)
        negative = b.icmp_signed("<", bits, const(kty, 0))
        flip = b.select(negative, const(kty, -1), _sign_bit(kty))
        return b.select(is_nan, const(kty, -1), b.xor(bits, flip))
    signed = dtype in dtypes.INTS
    if v.type.width < key_bits:
        v = b.sext(v, kty) if signed else b.zext(v, kty)
    return b.xor(v, _sign_bit(kty)) if signed else v


def _sign_bit(kty):
    return const(kty, -(1 << (kty.width - 1)))  # the signed minimum: only the top bit


def _row_base(b, r, rows):
    """Flat offset of element 0 of row r (rows are (o, j) pairs, j fastest)."""
    if rows.inner == 1:
        return b.mul(r, I64(rows.n))
    o, j = b.udiv(r, I64(rows.inner)), b.urem(r, I64(rows.inner))
    return b.add(b.mul(o, I64(rows.n * rows.inner)), j)


def _thread_buffers(b, ws, tid, rows):
    buf = b.gep(ws, [b.mul(b.sext(tid, I64), I64(rows.slot))], source_etype=ir.IntType(8))
    tmp = b.gep(buf, [I64(rows.n)], source_etype=rows.comp)
    return buf, tmp


def _store_comp(b, rows, buf, k, value):
    b.store(value, b.gep(buf, [k], source_etype=rows.comp), align=8)


def _write_indices(b, rows, sorted_buf, out, base, stride):
    with loops.for_range(b, I64(0), I64(rows.n), name="w", llvm_unroll=True) as k:
        c = b.load(b.gep(sorted_buf, [k], source_etype=rows.comp), typ=rows.comp, align=8)
        dst = loops.element_ptr(b, out, "int32", b.add(base, b.mul(k, stride)))
        b.store(b.trunc(c, I32), dst, align=4)


# -- the sort: `ptr sort(ptr a, ptr tmp, i64 n)` --------------------------------------------

def _sort_function(module, comp):
    """Sort n composites (all distinct) ascending, unsigned; returns the buffer (a or tmp)
    holding the result. Defined once per module and composite type."""
    name = f"gk.sort.{comp}"
    try:
        return module.get_global(name)
    except KeyError:
        pass
    fn = ir.Function(module, ir.FunctionType(PTR, [PTR, PTR, I64]), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    a, tmp, n = fn.args
    _insertion_sort_runs(b, comp, a, n)
    src, dst, width = _var(b, PTR, a), _var(b, PTR, tmp), _var(b, I64, I64(INSERTION_RUN))
    with _while(b, lambda: b.icmp_signed("<", b.load(width, typ=I64), n), "pass"):
        w = b.load(width, typ=I64)
        s, d = b.load(src, typ=PTR), b.load(dst, typ=PTR)
        with loops.for_range(b, I64(0), n, b.mul(w, I64(2)), name="lo") as lo:
            mid = _smin(b, b.add(lo, w), n)
            hi = _smin(b, b.add(mid, w), n)
            _merge(b, comp, s, d, lo, mid, hi)
        b.store(d, src)
        b.store(s, dst)
        b.store(b.mul(w, I64(2)), width)
    b.ret(b.load(src, typ=PTR))
    return fn


def _insertion_sort_runs(b, comp, a, n):
    at = lambda i: b.gep(a, [i], source_etype=comp)  # noqa: E731
    with loops.for_range(b, I64(0), n, INSERTION_RUN, name="run") as start:
        end = _smin(b, b.add(start, I64(INSERTION_RUN)), n)
        with loops.for_range(b, b.add(start, I64(1)), end, name="ins") as i:
            v = b.load(at(i), typ=comp, align=8)
            j = _var(b, I64, i)

            def shifting():
                # a[j - 1] > v, read only while j > start (the read index is clamped)
                jj = b.load(j, typ=I64)
                inside = b.icmp_signed(">", jj, start)
                prev = b.load(at(b.select(inside, b.sub(jj, I64(1)), start)), typ=comp,
                              align=8)
                return b.and_(inside, b.icmp_unsigned(">", prev, v))
            with _while(b, shifting, "shift"):
                jj = b.load(j, typ=I64)
                prev_i = b.sub(jj, I64(1))
                b.store(b.load(at(prev_i), typ=comp, align=8), at(jj), align=8)
                b.store(prev_i, j)
            b.store(v, at(b.load(j, typ=I64)), align=8)


def _merge(b, comp, src, dst, lo, mid, hi):
    """dst[lo:hi] = the merge of the sorted src[lo:mid] and src[mid:hi] (branch-free step)."""
    src_at = lambda i: b.gep(src, [i], source_etype=comp)  # noqa: E731
    dst_at = lambda i: b.gep(dst, [i], source_etype=comp)  # noqa: E731
    i, j, k = _var(b, I64, lo), _var(b, I64, mid), _var(b, I64, lo)

    def both_left():
        return b.and_(b.icmp_signed("<", b.load(i, typ=I64), mid),
                      b.icmp_signed("<", b.load(j, typ=I64), hi))
    with _while(b, both_left, "merge"):
        ii, jj, kk = (b.load(v, typ=I64) for v in (i, j, k))
        left = b.load(src_at(ii), typ=comp, align=8)
        right = b.load(src_at(jj), typ=comp, align=8)
        take_right = b.icmp_unsigned("<", right, left)
        b.store(b.select(take_right, right, left), dst_at(kk), align=8)
        step_right = b.zext(take_right, I64)
        b.store(b.add(jj, step_right), j)
        b.store(b.add(ii, b.sub(I64(1), step_right)), i)
        b.store(b.add(kk, I64(1)), k)
    for begin, stop in ((i, mid), (j, hi)):   # one of the two halves has elements left
        first, out0 = b.load(begin, typ=I64), b.load(k, typ=I64)
        with loops.for_range(b, first, stop, name="rest", llvm_unroll=True) as t:
            b.store(b.load(src_at(t), typ=comp, align=8),
                    dst_at(b.add(out0, b.sub(t, first))), align=8)
        b.store(b.add(out0, b.sub(stop, first)), k)


# -- small IR helpers ----------------------------------------------------------------------

def _smin(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def _var(b, ty, init):
    """A mutable local (an entry-block alloca, which mem2reg turns into registers)."""
    entry = b.function.entry_basic_block
    saved = b.block
    with b.goto_block(entry):
        if entry.instructions:
            b.position_before(entry.instructions[0])
        slot = b.alloca(ty)
    b.position_at_end(saved)
    b.store(init, slot)
    return slot


@contextlib.contextmanager
def _while(b, condition, name):
    """`while condition(): body` (the body is emitted in the with; condition() emits the
    test in the loop head)."""
    fn = b.function
    head, body, done = (fn.append_basic_block(f"{name}.{k}") for k in ("head", "body", "done"))
    b.branch(head)
    b.position_at_end(head)
    b.cbranch(condition(), body, done)
    b.position_at_end(body)
    yield
    b.branch(head)
    b.position_at_end(done)


__all__ = ["lower_sorting", "lower_random_permutation", "emit_argsort",
           "emit_random_permutation", "sort_key"]
