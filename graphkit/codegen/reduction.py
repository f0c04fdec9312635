"""Reduction kernels (sum, prod, max, min; mean = sum then an epilogue; argmax, argmin over
one axis) with vector accumulators and fused elementwise prologue and epilogue.

    emit_reduction(module, "r0",
                   operands=[Operand((256, 10), "float32")],
                   prologue=expr.apply("exp", expr.input(0, "float32")),  # over in_shape
                   in_shape=(256, 10), axes=(1,), op="sum",
                   epilogue=expr.apply("log", expr.input(0, "float32")))   # input 0 = result

Kernel ABI: `void @r0(ptr args)`, args = [operand pointers..., output pointer]. Operands
broadcast against `in_shape` (as in elementwise.py). The output is C-contiguous with the
shape of `in_shape` without `axes` (keepdims is a reshape, free for the caller).
`epilogue` reads the reduced value as `input(0)` (dtype: the accumulator's) and may read
`input(k)` for k >= 1 as epilogue operand k-1, given in `epilogue_operands` with the
output's shape (broadcasting like elementwise operands).

Two loop shapes:
- the innermost input dim is reduced ("rows"): one output element at a time, a vector
  accumulator along the contiguous reduced dim (masked tail filled with the identity), then a
  horizontal reduction;
- the innermost input dim is kept ("columns"): `lanes` adjacent outputs at a time, each lane
  its own accumulator, looping over every reduced index.
Outputs are split across the thread pool when the input is big.
"""
import math

from llvmlite import ir

from graphkit.codegen import expr as ex
from graphkit.codegen import loops, parallel
from graphkit.codegen.elementwise import (
    KernelSpec, Operand, broadcast_strides, contiguous_strides, default_lanes)
from graphkit.codegen.llvm_types import (
    I64, call_intrinsic, const, intrinsic, iota, register_type, splat, type_suffix,
    vector_of)
from graphkit.codegen.mathlib import MathLib

ARG_REDUCE_OPS = ("argmax", "argmin")
REDUCE_OPS = ("sum", "prod", "max", "min") + ARG_REDUCE_OPS


def identity_value(op, dtype):
    is_f = dtype.startswith("float")
    if op == "sum":
        return 0.0 if is_f else 0
    if op == "prod":
        return 1.0 if is_f else 1
    if dtype == "bool":
        return 0 if op == "max" else 1
    if is_f:
        return float("-inf") if op == "max" else float("inf")
    import numpy as np
    info = np.iinfo(dtype)
    return int(info.min) if op == "max" else int(info.max)


def _combine(b, op, a, c, dtype):
    is_f = dtype.startswith("float")
    if op == "sum":
        return b.fadd(a, c) if is_f else b.add(a, c)
    if op == "prod":
        return b.fmul(a, c) if is_f else b.mul(a, c)
    if is_f:  # NaN propagates, as in NumPy
        return call_intrinsic(b, "maximum" if op == "max" else "minimum", a, c)
    if dtype == "bool":
        return b.or_(a, c) if op == "max" else b.and_(a, c)
    signed = dtype.startswith("int")
    return call_intrinsic(b, ("s" if signed else "u") + op, a, c)


def _horizontal(b, op, vec, dtype):
    """Reduce a vector to a scalar (tree order)."""
    is_f = dtype.startswith("float")
    el = vec.type.element
    if is_f and op in ("sum", "prod"):
        name = "fadd" if op == "sum" else "fmul"
        fn = intrinsic(b.module, f"llvm.vector.reduce.{name}.{type_suffix(vec.type)}", el,
                       [el, vec.type])
        start = const(el, 0.0 if op == "sum" else 1.0)
        return b.call(fn, [start, vec], fastmath=("reassoc",))
    if is_f:
        name = "fmaximum" if op == "max" else "fminimum"
    elif op in ("sum", "prod"):
        name = "add" if op == "sum" else "mul"
    elif dtype == "bool":
        name = "or" if op == "max" else "and"
    else:
        name = ("s" if dtype.startswith("int") else "u") + op
    fn = intrinsic(b.module, f"llvm.vector.reduce.{name}.{type_suffix(vec.type)}", el,
                   [vec.type])
    return b.call(fn, [vec])


def emit_reduction(module, name, operands, prologue, in_shape, axes, op="sum",
                   epilogue=None, epilogue_operands=(), lanes=None, parallel_ok=None,
                   index_dtype="int32"):
    """argmax/argmin reduce one axis to the position (in `index_dtype`) of the first
    extremum; the epilogue then reads that index as input(0)."""
    if op not in REDUCE_OPS:
        raise ValueError(f"reduction codegen: unknown op {op!r}; expected one of {REDUCE_OPS}")
    in_shape = tuple(int(d) for d in in_shape)
    nd = len(in_shape)
    axes = tuple(sorted({a % nd for a in axes})) if nd else ()
    if op in ARG_REDUCE_OPS and len(axes) != 1:
        raise ValueError(f"reduction codegen: {op} reduces exactly one axis, received "
                         f"axes {axes} of shape {in_shape}")
    kept = [a for a in range(nd) if a not in axes]
    out_shape = tuple(in_shape[a] for a in kept)
    lanes = lanes or default_lanes()
    acc_dtype = prologue.dtype
    result_dtype = index_dtype if op in ARG_REDUCE_OPS else acc_dtype
    epilogue = epilogue or ex.input(0, result_dtype)
    op_strides = [broadcast_strides(o, in_shape) for o in operands]
    out_strides_full = contiguous_strides(out_shape)
    epi_strides = [broadcast_strides(o, out_shape) for o in epilogue_operands]
    plan = _Plan(in_shape, axes, kept, op_strides, out_strides_full, epi_strides)
    total = math.prod(in_shape)
    if parallel_ok is None:
        parallel_ok = total * 4 * max(1, len(operands)) >= parallel.MIN_PARALLEL_WORK
    dts = [o.dtype for o in operands] + [o.dtype for o in epilogue_operands]
    body_class = _ArgReductionBody if op in ARG_REDUCE_OPS else _ReductionBody
    body = body_class(plan, operands, epilogue_operands, prologue, epilogue, op,
                      acc_dtype, lanes, MathLib(module))
    body.index_dtype = index_dtype
    loops.define_kernel(module, name, body.emit,
                        parallel_ok and math.prod(out_shape) > 1)
    del dts
    return KernelSpec(name, len(operands) + len(epilogue_operands), 1, parallel_ok)


class _Plan:
    """Index bookkeeping: kept dims (outputs) and reduced dims, with per-operand strides."""

    def __init__(self, in_shape, axes, kept, op_strides, out_strides, epi_strides):
        self.in_shape, self.axes, self.kept = in_shape, axes, kept
        self.op_strides, self.out_strides, self.epi_strides = op_strides, out_strides, epi_strides
        self.kept_shape = [in_shape[a] for a in kept]
        self.red_shape = [in_shape[a] for a in axes]
        self.rows_mode = bool(axes) and (axes[-1] == len(in_shape) - 1)


def _decompose(b, flat, shape):
    """Indices of a flat (C-order) index over `shape`."""
    idx, rem = [None] * len(shape), flat
    for k in range(len(shape) - 1, -1, -1):
        if k == 0:
            idx[k] = rem
        else:
            idx[k] = b.urem(rem, I64(shape[k]))
            rem = b.udiv(rem, I64(shape[k]))
    return idx


def _offset(b, idx, strides):
    off = I64(0)
    for i, s in zip(idx, strides):
        if s:
            off = b.add(off, b.mul(i, I64(s)))
    return off


class _ReductionBody:
    def __init__(self, plan, operands, epi_operands, prologue, epilogue, op, acc_dtype,
                 lanes, mathlib):
        self.p, self.operands, self.epi_operands = plan, operands, epi_operands
        self.prologue, self.epilogue, self.op = prologue, epilogue, op
        self.acc_dtype, self.lanes, self.math = acc_dtype, lanes, mathlib

    def emit(self, b, args, tid, nth):
        n_in, n_epi = len(self.operands), len(self.epi_operands)
        self.in_ptrs = [loops.arg_pointer(b, args, k) for k in range(n_in)]
        self.epi_ptrs = [loops.arg_pointer(b, args, n_in + k) for k in range(n_epi)]
        self.out_ptr = loops.arg_pointer(b, args, n_in + n_epi)
        if self.p.rows_mode or not self.p.kept:
            self._emit_rows(b, tid, nth)
        else:
            self._emit_columns(b, tid, nth)

    # input offsets for kept index + reduced index
    def _in_offsets(self, b, kept_idx, red_idx):
        offs = []
        for st in self.p.op_strides:
            ks = [st[a] for a in self.p.kept]
            rs = [st[a] for a in self.p.axes]
            offs.append(b.add(_offset(b, kept_idx, ks), _offset(b, red_idx, rs)))
        return offs

    def _prologue(self, b, lanes, bases, inner_strides, j, mask):
        def load(i):
            dt, s, base = self.operands[i].dtype, inner_strides[i], bases[i]
            if s == 0 or lanes == 1:
                p = base if s == 0 else loops.element_ptr(b, base, dt, b.mul(j, I64(s)))
                return splat(b, loops.load_value(b, p, dt, 1), lanes)
            if s == 1 and mask is None:
                return loops.load_value(b, loops.element_ptr(b, base, dt, j), dt, lanes)
            if s == 1:
                return loops.masked_load(b, loops.element_ptr(b, base, dt, j), dt, mask, lanes)
            idx = b.mul(b.add(splat(b, j, lanes), iota(ir.VectorType(I64, lanes))),
                        splat(b, I64(s), lanes))
            m = mask if mask is not None else const(ir.VectorType(ir.IntType(1), lanes), 1)
            return loops.gather(b, base, dt, idx, m, lanes)
        return ex.Lowerer(b, lanes, load, self.math).emit(self.prologue)

    def _finish(self, b, acc, out_idx_flat, lanes, mask):
        """Apply the epilogue to `acc` (scalar or vector) and store it at out_idx_flat."""
        out_shape = self.p.kept_shape

        def load(i):
            if i == 0:
                return acc
            k = i - 1
            dt = self.epi_operands[k].dtype
            st = self.p.epi_strides[k]
            if lanes == 1 or not out_shape:
                idx = _decompose(b, out_idx_flat, out_shape) if out_shape else []
                p = loops.element_ptr(b, self.epi_ptrs[k], dt, _offset(b, idx, st))
                return splat(b, loops.load_value(b, p, dt, 1), lanes)
            idx = _decompose(b, out_idx_flat, out_shape)
            base = loops.element_ptr(b, self.epi_ptrs[k], dt, _offset(b, idx, st))
            if st[-1] == 0:
                return splat(b, loops.load_value(b, base, dt, 1), lanes)
            if st[-1] == 1:
                return (loops.load_value(b, base, dt, lanes) if mask is None
                        else loops.masked_load(b, base, dt, mask, lanes))
            ivec = b.mul(iota(ir.VectorType(I64, lanes)), splat(b, I64(st[-1]), lanes))
            m = mask if mask is not None else const(ir.VectorType(ir.IntType(1), lanes), 1)
            return loops.gather(b, base, dt, ivec, m, lanes)

        val = ex.Lowerer(b, lanes, load, self.math).emit(self.epilogue)
        dt = self.epilogue.dtype
        p = loops.element_ptr(b, self.out_ptr, dt, out_idx_flat)
        if mask is None:
            loops.store_value(b, val, p, dt, lanes)
        else:
            loops.masked_store(b, val, p, dt, mask, lanes)

    def _emit_rows(self, b, tid, nth):
        """Innermost dim reduced (or everything reduced): one output at a time."""
        lanes, p = self.lanes, self.p
        n_out = math.prod(p.kept_shape)
        red_outer, red_inner = p.red_shape[:-1], (p.red_shape[-1] if p.red_shape else 1)
        acc_ty = vector_of(register_type(self.acc_dtype), lanes)
        ident = identity_value(self.op, self.acc_dtype)
        ob, oe = parallel.split_range(b, tid, nth, I64(n_out))
        acc_slot = loops._entry_alloca(b, acc_ty, "acc")
        with loops.for_range(b, ob, oe, name="out") as o:
            kept_idx = _decompose(b, o, p.kept_shape) if p.kept_shape else []
            b.store(const(acc_ty, ident), acc_slot)
            with loops.for_range(b, 0, math.prod(red_outer), name="red") as rr:
                red_idx = (_decompose(b, rr, red_outer) if red_outer else []) + [I64(0)]
                offs = self._in_offsets(b, kept_idx, red_idx)
                bases = [loops.element_ptr(b, ptr, o_.dtype, off)
                         for ptr, o_, off in zip(self.in_ptrs, self.operands, offs)]
                inner = [st[p.axes[-1]] if p.axes else 0 for st in p.op_strides]
                vec_end = red_inner - red_inner % lanes
                with loops.for_range(b, 0, vec_end, lanes, name="k") as k:
                    v = self._prologue(b, lanes, bases, inner, k, None)
                    b.store(_combine(b, self.op, b.load(acc_slot, typ=acc_ty), v,
                                     self.acc_dtype), acc_slot)
                if red_inner % lanes:
                    mask = loops.lane_mask(b, I64(red_inner % lanes), lanes)
                    v = self._prologue(b, lanes, bases, inner, I64(vec_end), mask)
                    v = b.select(mask, v, const(acc_ty, ident))
                    b.store(_combine(b, self.op, b.load(acc_slot, typ=acc_ty), v,
                                     self.acc_dtype), acc_slot)
            total = _horizontal(b, self.op, b.load(acc_slot, typ=acc_ty), self.acc_dtype)
            self._finish(b, total, o, 1, None)

    def _emit_columns(self, b, tid, nth):
        """Innermost dim kept: `lanes` adjacent outputs per step scan the reduced dims
        together (one accumulator per lane); a masked step takes the remainder."""
        lanes, p = self.lanes, self.p
        inner = p.kept_shape[-1]
        outer_kept = p.kept_shape[:-1]
        n_outer = math.prod(outer_kept)
        state = self._column_state(b)
        rb, re, jb, je = loops.split_rows(b, tid, nth, n_outer, inner, lanes)
        inner_strides = [st[p.kept[-1]] for st in p.op_strides]
        with loops.for_range(b, rb, re, name="row") as r:
            outer_idx = _decompose(b, r, outer_kept) if outer_kept else []

            def step(j, mask):
                flat = b.add(b.mul(r, I64(inner)), j)
                self._column_step(b, state, outer_idx, j, flat, inner_strides, mask)

            loops.vector_loop(b, jb, je, lanes, step)

    def _column_prologue(self, b, kept_idx, red_idx, inner_strides, mask):
        """The prologue's vector at kept index `kept_idx`, reduced index `red_idx`."""
        offs = self._in_offsets(b, kept_idx, red_idx)
        bases = [loops.element_ptr(b, ptr, o_.dtype, off)
                 for ptr, o_, off in zip(self.in_ptrs, self.operands, offs)]
        return self._prologue(b, self.lanes, bases, inner_strides, I64(0), mask)

    def _column_state(self, b):
        acc_ty = vector_of(register_type(self.acc_dtype), self.lanes)
        return loops._entry_alloca(b, acc_ty, "acc"), acc_ty

    def _column_step(self, b, state, outer_idx, j, flat, inner_strides, mask):
        acc_slot, acc_ty = state
        p = self.p
        b.store(const(acc_ty, identity_value(self.op, self.acc_dtype)), acc_slot)
        with loops.for_range(b, 0, math.prod(p.red_shape), name="red") as rr:
            red_idx = _decompose(b, rr, p.red_shape)
            v = self._column_prologue(b, outer_idx + [j], red_idx, inner_strides, mask)
            b.store(_combine(b, self.op, b.load(acc_slot, typ=acc_ty), v, self.acc_dtype),
                    acc_slot)
        self._finish(b, b.load(acc_slot, typ=acc_ty), flat, self.lanes, mask)


# -- argmax / argmin -----------------------------------------------------------------------
#
# Each lane keeps a candidate (value, index) and scans its elements in increasing index
# order, replacing the candidate only by a strictly better value: so it keeps the first
# extremum it saw. NaN counts as better than any number (np.argmax and np.argmin both return
# the first NaN). Accumulators start at the worst value (-inf for argmax) with the index
# INT64_MAX. Lanes are merged by taking the best value, then the smallest index among the
# lanes holding it. A result still INT64_MAX means that no element beat the worst value,
# i.e. every element equals it: the answer is then 0.

_NO_INDEX = (1 << 63) - 1


class _ArgReductionBody(_ReductionBody):
    def _better(self, b, av, bv):
        """i1 (vector): value av is strictly better than bv (NaN beats numbers)."""
        want = ">" if self.op == "argmax" else "<"
        dt = self.acc_dtype
        if dt.startswith("float"):
            a_nan = b.fcmp_unordered("uno", av, av)
            b_num = b.fcmp_ordered("ord", bv, bv)
            return b.or_(b.fcmp_ordered(want, av, bv), b.and_(a_nan, b_num))
        cmp = b.icmp_signed if dt.startswith("int") else b.icmp_unsigned
        return cmp(want, av, bv)

    def _worst(self):
        return identity_value("max" if self.op == "argmax" else "min", self.acc_dtype)

    def _slots(self, b, lanes):
        v_ty = vector_of(register_type(self.acc_dtype), lanes)
        i_ty = vector_of(I64, lanes)
        v_slot = loops._entry_alloca(b, v_ty, "best")
        i_slot = loops._entry_alloca(b, i_ty, "best_index")
        return (v_slot, v_ty), (i_slot, i_ty)

    def _reset(self, b, slots):
        (v_slot, v_ty), (i_slot, i_ty) = slots
        b.store(const(v_ty, self._worst()), v_slot)
        b.store(const(i_ty, _NO_INDEX), i_slot)

    def _update(self, b, slots, v, idx, mask):
        (v_slot, v_ty), (i_slot, i_ty) = slots
        bv, bi = b.load(v_slot, typ=v_ty), b.load(i_slot, typ=i_ty)
        take = self._better(b, v, bv)
        if mask is not None:
            take = b.and_(take, mask)
        b.store(b.select(take, v, bv), v_slot)
        b.store(b.select(take, idx, bi), i_slot)

    def _index_result(self, b, index, lanes):
        """The final index (no index found: every element is the worst value, answer 0)."""
        ty = index.type
        index = b.select(b.icmp_signed("==", index, const(ty, _NO_INDEX)), const(ty, 0), index)
        return b.trunc(index, vector_of(register_type(self.index_dtype), lanes)) \
            if self.index_dtype != "int64" else index

    def _emit_rows(self, b, tid, nth):
        """The reduced axis is innermost: lanes scan it in strides, then merge."""
        lanes, p = self.lanes, self.p
        n_out = math.prod(p.kept_shape)
        n_red = p.red_shape[0]
        slots = self._slots(b, lanes)
        lane_ids = iota(ir.VectorType(I64, lanes))
        ob, oe = parallel.split_range(b, tid, nth, I64(n_out))
        with loops.for_range(b, ob, oe, name="out") as o:
            kept_idx = _decompose(b, o, p.kept_shape) if p.kept_shape else []
            self._reset(b, slots)
            offs = self._in_offsets(b, kept_idx, [I64(0)])
            bases = [loops.element_ptr(b, ptr, o_.dtype, off)
                     for ptr, o_, off in zip(self.in_ptrs, self.operands, offs)]
            inner = [st[p.axes[0]] for st in p.op_strides]
            vec_end = n_red - n_red % lanes
            with loops.for_range(b, 0, vec_end, lanes, name="k") as k:
                v = self._prologue(b, lanes, bases, inner, k, None)
                self._update(b, slots, v, b.add(splat(b, k, lanes), lane_ids), None)
            if n_red % lanes:
                mask = loops.lane_mask(b, I64(n_red % lanes), lanes)
                v = self._prologue(b, lanes, bases, inner, I64(vec_end), mask)
                idx = b.add(splat(b, I64(vec_end), lanes), lane_ids)
                self._update(b, slots, v, idx, mask)
            index = self._horizontal_index(b, slots, lanes)
            self._finish(b, self._index_result(b, index, 1), o, 1, None)

    def _horizontal_index(self, b, slots, lanes):
        """The winning lane's index: the best value over the lanes (NaN wins), then the
        smallest index among the lanes holding it."""
        (v_slot, v_ty), (i_slot, i_ty) = slots
        vs, ids = b.load(v_slot, typ=v_ty), b.load(i_slot, typ=i_ty)
        if lanes == 1:
            return ids
        dt = self.acc_dtype
        best = splat(b, _horizontal(b, "max" if self.op == "argmax" else "min", vs, dt), lanes)
        if dt.startswith("float"):
            both_nan = b.and_(b.fcmp_unordered("uno", vs, vs),
                              b.fcmp_unordered("uno", best, best))
            holds = b.or_(b.fcmp_ordered("==", vs, best), both_nan)
        else:
            holds = b.icmp_unsigned("==", vs, best)
        candidates = b.select(holds, ids, const(i_ty, _NO_INDEX))
        fn = intrinsic(b.module, f"llvm.vector.reduce.smin.{type_suffix(i_ty)}", I64, [i_ty])
        return b.call(fn, [candidates])

    def _column_state(self, b):
        return self._slots(b, self.lanes)

    def _column_step(self, b, slots, outer_idx, j, flat, inner_strides, mask):
        lanes = self.lanes
        self._reset(b, slots)
        with loops.for_range(b, 0, self.p.red_shape[0], name="red") as rr:
            v = self._column_prologue(b, outer_idx + [j], [rr], inner_strides, mask)
            self._update(b, slots, v, splat(b, rr, lanes), mask)
        (i_slot, i_ty) = slots[1]
        index = self._index_result(b, b.load(i_slot, typ=i_ty), lanes)
        self._finish(b, index, flat, lanes, mask)


__all__ = ["emit_reduction", "REDUCE_OPS", "ARG_REDUCE_OPS", "identity_value", "Operand"]
