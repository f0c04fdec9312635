"""Elementwise expression DAGs, and their lowering to LLVM values (scalar or vector).

An `Expr` is one node of a pure, elementwise computation:

    Expr(op, args=(child Exprs...), attrs=((name, value), ...), dtype="float32")

Leaves: `input(i, dtype)` (the i-th operand of the kernel, read at the current index) and
`constant(value, dtype)`. Inner nodes: `apply(op, *args, **attrs)`, with `op` named as the
gk.ops primitive (`add`, `exp`, `where`, `cast`...). `apply` infers the result dtype
(comparisons and logical ops give bool, `cast` gives its `dtype` attribute, `where` its
branches' dtype, anything else its first operand's). Exprs are frozen and compare by
structure, so a DAG that repeats a sub-expression computes it once (`Lowerer` memoizes).

`OPS` lists every op `Lowerer` can emit; `supports(op)` is what fusion asks. A multiply of
two quotient-valued math functions (tanh(u) * sigmoid(v), mathlib.QUOTIENTS) is lowered as
one division.
"""
from dataclasses import dataclass

from llvmlite import ir

from graphkit.codegen.llvm_types import (
    F32, F64, I1, I8, call_intrinsic, const, element_type, intrinsic, is_signed,
    register_type, type_suffix, vector_of)
from graphkit.codegen.mathlib import FUNCTIONS, MathLib, has_quotient

UNARY_MATH = ("exp", "log", "log1p", "tanh", "sigmoid", "erf", "sin", "cos")
UNARY = UNARY_MATH + ("negative", "abs", "sign", "square", "sqrt", "rsqrt", "reciprocal",
                      "floor", "ceil", "round", "logical_not", "identity", "stop_gradient",
                      "cast", "bits_to_unit_float", "bitwise_not")
BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power",
          "floor_divide", "mod", "equal", "not_equal", "less", "less_equal", "greater",
          "greater_equal", "logical_and", "logical_or", "logical_xor", "bitwise_and",
          "bitwise_or", "bitwise_xor", "left_shift", "right_shift")
TERNARY = ("where", "clip")
OPS = frozenset(UNARY + BINARY + TERNARY)
_BOOL_RESULT = frozenset(("equal", "not_equal", "less", "less_equal", "greater",
                          "greater_equal", "logical_and", "logical_or", "logical_xor",
                          "logical_not"))
_ARITY = {**{op: 1 for op in UNARY}, **{op: 2 for op in BINARY}, **{op: 3 for op in TERNARY}}


def supports(op):
    """True when elementwise codegen can emit `op`."""
    return op in OPS


@dataclass(frozen=True)
class Expr:
    op: str
    args: tuple = ()
    attrs: tuple = ()
    dtype: str = "float32"

    def attr(self, name, default=None):
        return dict(self.attrs).get(name, default)

    def inputs(self):
        """Sorted indices of the kernel operands this expression reads."""
        seen, stack = set(), [self]
        while stack:
            e = stack.pop()
            if e.op == "input":
                seen.add(e.attr("index"))
            stack.extend(e.args)
        return sorted(seen)


# Ops that cost a division or a polynomial per element: an expression with one is bound by
# arithmetic rather than memory traffic.
HEAVY_OPS = frozenset(FUNCTIONS) | {"divide", "sqrt", "rsqrt", "power", "floor_divide", "mod"}


def op_nodes(exprs):
    """The distinct op nodes (not inputs or constants) of expressions sharing sub-DAGs."""
    seen, stack = set(), list(exprs)
    while stack:
        e = stack.pop()
        if e in seen or e.op in ("input", "constant"):
            continue
        seen.add(e)
        stack.extend(e.args)
    return seen


def is_heavy(exprs):
    """True when some op of the expressions is in HEAVY_OPS."""
    return any(e.op in HEAVY_OPS for e in op_nodes(exprs))


def input(index, dtype):  # noqa: A001 - the natural name for a DAG leaf
    return Expr("input", (), (("index", int(index)),), dtype)


def constant(value, dtype):
    return Expr("constant", (), (("value", value),), dtype)


def apply(op, *args, **attrs):
    if op not in OPS:
        raise ValueError(f"elementwise codegen: unsupported op {op!r}; supported: "
                         f"{', '.join(sorted(OPS))}")
    if len(args) != _ARITY[op]:
        raise ValueError(f"elementwise codegen: {op} takes {_ARITY[op]} operand(s), "
                         f"received {len(args)}")
    if op in ("cast", "bits_to_unit_float"):
        dtype = attrs["dtype"]
    elif op in _BOOL_RESULT:
        dtype = "bool"
    elif op == "where":
        dtype = args[1].dtype
    else:
        dtype = args[0].dtype
    return Expr(op, tuple(args), tuple(sorted(attrs.items())), dtype)


class Lowerer:
    """Emits an Expr at a builder position, for `lanes` lanes, reading inputs via `load(i)`."""

    def __init__(self, builder, lanes, load, mathlib=None):
        self.b = builder
        self.lanes = lanes
        self.load = load
        self.math = mathlib or MathLib(builder.module)
        self.memo = {}

    def ty(self, dtype):
        return vector_of(register_type(dtype), self.lanes)

    def emit(self, e):
        if e in self.memo:
            return self.memo[e]
        if e.op == "input":
            v = self.load(e.attr("index"))
        elif e.op == "constant":
            v = self._constant(e.attr("value"), e.dtype)
        elif _is_quotient_product(e):
            v = self._quotient_product(e)
        else:
            args = [self.emit(a) for a in e.args]
            v = self._op(e, args)
        self.memo[e] = v
        return v

    def _constant(self, value, dtype):
        ty = self.ty(dtype)
        el = element_type(ty)
        if el == I1:
            return const(ty, int(bool(value)))
        if isinstance(el, ir.IntType):
            return const(ty, int(value))
        return const(ty, float(value))

    # -- per op --------------------------------------------------------------------------------

    def _op(self, e, args):
        b, op = self.b, e.op
        dt = e.args[0].dtype
        is_f = dt in ("float16", "float32", "float64")
        if op in ("identity", "stop_gradient"):
            return args[0]
        if op == "cast":
            return self.cast(args[0], dt, e.dtype)
        if op == "bits_to_unit_float":
            return self._unit_float(args[0], e.dtype)
        if op in UNARY_MATH:
            return self._math(op, args[0], dt)
        if op in _COMPARE:
            return self._compare(op, args[0], args[1], dt)
        if op.startswith("logical_"):
            fn = {"logical_and": b.and_, "logical_or": b.or_, "logical_xor": b.xor}
            bools = [self._truth(a, arg.dtype) for a, arg in zip(args, e.args)]
            if op == "logical_not":
                return b.xor(bools[0], const(bools[0].type, 1))
            return fn[op](*bools)
        if op == "where":
            return b.select(self._truth(args[0], e.args[0].dtype), args[1], args[2])
        if op == "clip":
            return self._minmax("minimum", self._minmax("maximum", args[0], args[1], dt),
                                args[2], dt)
        if op in ("maximum", "minimum"):
            return self._minmax(op, args[0], args[1], dt)
        if op == "power":
            return self._power(e, args)
        handler = (_FLOAT_OPS if is_f else _INT_OPS).get(op)
        if handler is None:
            raise ValueError(f"elementwise codegen: {op} is not defined for dtype {dt}")
        return handler(self, args, dt)

    def _math(self, op, x, dt):
        if dt == "float16":  # compute in float32, round once at the end
            y = self.math.call(self.b, op, self.b.fpext(x, vector_of(F32, self.lanes)))
            return self.b.fptrunc(y, x.type)
        if dt not in ("float32", "float64"):
            raise ValueError(f"elementwise codegen: {op} needs a float operand, received {dt}")
        return self.math.call(self.b, op, x)

    def _quotient_product(self, e):
        """f(u) * g(v) for quotient-valued f, g (tanh * sigmoid, in gated units): one
        division, num_f num_g / (den_f den_g), instead of two. The dens are bounded (see
        mathlib.QUOTIENTS), so their product neither overflows nor vanishes."""
        (n1, d1), (n2, d2) = (self.math.quotient(self.b, a.op, self.emit(a.args[0]))
                              for a in e.args)
        return self.b.fdiv(self.b.fmul(n1, n2), self.b.fmul(d1, d2))

    def _unit_float(self, bits, dtype):
        """graphkit.ops.random.bits_to_unit_float: (bits >> (32 - m)) * 2^-m, exact."""
        from graphkit.ops.random import UNIT_FLOAT_BITS
        m = UNIT_FLOAT_BITS[dtype]
        kept = self.b.lshr(bits, const(bits.type, 32 - m))
        val = self.b.uitofp(kept, self.ty(dtype))
        return self.b.fmul(val, const(val.type, 2.0 ** -m))

    def _truth(self, v, dtype):
        if dtype == "bool":
            return v
        zero = const(v.type, 0.0 if dtype.startswith("float") else 0)
        if dtype.startswith("float"):
            return self.b.fcmp_unordered("!=", v, zero)
        return self.b.icmp_unsigned("!=", v, zero)

    def _compare(self, op, a, c, dt):
        sym = _COMPARE[op]
        if dt.startswith("float"):
            if op == "not_equal":  # NaN != anything is True, as in NumPy
                return self.b.fcmp_unordered("!=", a, c)
            return self.b.fcmp_ordered(sym, a, c)
        if dt == "bool" or not is_signed(dt):
            return self.b.icmp_unsigned(sym, a, c)
        return self.b.icmp_signed(sym, a, c)

    def _minmax(self, op, a, c, dt):
        if dt.startswith("float"):
            # NumPy's maximum: NaN when either operand is, else the first when it is greater
            # (float32/64 use maxps: a tie, 0.0 vs -0.0, gives the second) or greater or
            # equal (the float16 loop: a tie gives the first). llvm.maximum orders -0 < +0.
            sym = (">" if op == "maximum" else "<") + ("=" if dt == "float16" else "")
            if _non_nan_constant(c):
                # against a number (relu's 0): one compare; unordered, so a NaN `a` wins
                return self.b.select(self.b.fcmp_unordered(sym, a, c), a, c)
            first = self.b.fcmp_ordered(sym, a, c)
            if not _non_nan_constant(a):
                first = self.b.or_(first, self.b.fcmp_unordered("uno", a, a))
            return self.b.select(first, a, c)
        if dt == "bool":
            return (self.b.or_ if op == "maximum" else self.b.and_)(a, c)
        kind = ("s" if is_signed(dt) else "u") + ("max" if op == "maximum" else "min")
        return call_intrinsic(self.b, kind, a, c)

    def _power(self, e, args):
        b = self.b
        base, expo = args
        dt = e.dtype
        exponent = e.args[1]
        if exponent.op == "constant":  # small integer and half powers: exact and cheap
            p = float(exponent.attr("value"))
            if p == 2.0:
                return _mul(self, [base, base], dt)
            if p == 1.0:
                return base
            if p == 0.5 and dt.startswith("float"):
                return call_intrinsic(b, "sqrt", base)
            if p == 3.0:
                return _mul(self, [_mul(self, [base, base], dt), base], dt)
        if not dt.startswith("float"):
            return self._int_power(base, expo, dt)
        return self._float_power(base, expo, dt)

    def _float_power(self, x, y, dt):
        """pow in float64 (float32/16 operands promoted): exp(y log|x|) with NumPy's signs."""
        b = self.b
        wide = vector_of(F64, self.lanes)
        xd = x if dt == "float64" else b.fpext(x, wide)
        yd = y if dt == "float64" else b.fpext(y, wide)
        ax = call_intrinsic(b, "fabs", xd)
        mag = self.math.call(b, "exp", b.fmul(yd, self.math.call(b, "log", ax)))
        y_int = b.fcmp_ordered("==", call_intrinsic(b, "floor", yd), yd)
        half = b.fmul(yd, const(wide, 0.5))
        y_odd = b.and_(y_int, b.fcmp_ordered("!=", call_intrinsic(b, "floor", half), half))
        neg = b.fcmp_ordered("<", xd, const(wide, 0.0))
        r = b.select(b.and_(neg, y_odd), b.fneg(mag), mag)
        # a finite negative x to a non-integer y is NaN; (-inf)^y is +-0 or inf, as above
        neg_finite = b.and_(neg, b.fcmp_ordered("!=", xd, const(wide, float("-inf"))))
        r = b.select(b.and_(neg_finite, b.xor(y_int, const(y_int.type, 1))),
                     const(wide, float("nan")), r)
        zero_x = b.fcmp_ordered("==", xd, const(wide, 0.0))
        # 0^y: +-0 (y > 0, sign kept for odd y), inf (y < 0): exp/log give these except signs
        zero_res = b.select(b.fcmp_ordered("<", yd, const(wide, 0.0)),
                            call_intrinsic(b, "copysign", const(wide, float("inf")),
                                           b.select(y_odd, xd, const(wide, 1.0))),
                            b.select(y_odd, xd, const(wide, 0.0)))
        r = b.select(b.and_(zero_x, b.fcmp_ordered("!=", yd, const(wide, 0.0))), zero_res, r)
        one = const(wide, 1.0)
        # (-1)^+-inf is 1 as in C pow (y log|x| is inf * 0 = NaN there)
        minus_one_inf = b.and_(b.fcmp_ordered("==", xd, const(wide, -1.0)),
                               b.fcmp_ordered("==", call_intrinsic(b, "fabs", yd),
                                              const(wide, float("inf"))))
        r = b.select(b.or_(b.or_(b.fcmp_ordered("==", yd, const(wide, 0.0)),
                                 b.fcmp_ordered("==", xd, one)), minus_one_inf), one, r)
        if dt == "float16":  # NumPy's half power is powf, rounded to half
            r = b.fptrunc(r, vector_of(F32, self.lanes))
        return r if dt == "float64" else b.fptrunc(r, x.type)

    def _int_power(self, x, y, dt):
        """Integer power by squaring (64 rounds, branch-free so it vectorizes)."""
        b = self.b
        result, base, e = const(x.type, 1), x, y
        for _ in range(max(1, element_type(x.type).width)):
            odd = b.trunc(e, vector_of(I1, self.lanes))
            result = b.select(odd, b.mul(result, base), result)
            base = b.mul(base, base)
            e = b.lshr(e, const(e.type, 1))
        if is_signed(dt):  # negative exponents: 0 (NumPy raises; we give 0)
            result = b.select(b.icmp_signed("<", y, const(y.type, 0)), const(x.type, 0), result)
        return result

    def cast(self, v, src, dst):
        b = self.b
        if src == dst:
            return v
        dty = self.ty(dst)
        if dst == "bool":
            return self._truth(v, src)
        if src == "bool":
            return b.uitofp(v, dty) if dst.startswith("float") else b.zext(v, dty)
        sf, df = src.startswith("float"), dst.startswith("float")
        if sf and df:
            sw, dw = _FBITS[src], _FBITS[dst]
            if dw > sw:
                return b.fpext(v, dty)
            if (sw, dw) == (64, 16):  # correctly rounded, as NumPy's npy_double_to_half
                v = _fptrunc_to_odd_f32(b, v)
            return b.fptrunc(v, dty)
        if sf:  # saturating: NaN -> 0, out of range -> min/max (no poison)
            name = "fptosi.sat" if is_signed(dst) else "fptoui.sat"
            fn = intrinsic(b.module, f"llvm.{name}.{type_suffix(dty)}.{type_suffix(v.type)}",
                           dty, [v.type])
            return b.call(fn, [v])
        if df:
            return b.sitofp(v, dty) if is_signed(src) else b.uitofp(v, dty)
        sw, dw = element_type(v.type).width, element_type(dty).width
        if dw < sw:
            return b.trunc(v, dty)
        if dw > sw:
            return b.sext(v, dty) if is_signed(src) else b.zext(v, dty)
        return v


_FBITS = {"float16": 16, "float32": 32, "float64": 64}
_COMPARE = {"equal": "==", "not_equal": "!=", "less": "<", "less_equal": "<=",
            "greater": ">", "greater_equal": ">="}


def _fptrunc_to_odd_f32(b, v):
    """float64 -> float32 rounded to odd: an inexact result gets an odd last bit. float32
    keeps 13 more bits than float16, so rounding this to float16 rounds `v` correctly
    (there is no double -> half instruction, and LLVM's libcall __truncdfhf2 is not linked)."""
    lanes = v.type.count if isinstance(v.type, ir.VectorType) else 1
    ty, ity = vector_of(F32, lanes), vector_of(ir.IntType(32), lanes)
    r = b.fptrunc(v, ty)
    back = b.fpext(r, v.type)
    bits = b.bitcast(r, ity)
    even = b.icmp_unsigned("==", b.and_(bits, const(ity, 1)), const(ity, 0))
    fix = b.and_(b.fcmp_ordered("!=", back, v), even)
    # one step toward v in magnitude (sign-magnitude bits: +-1 moves away from / to zero)
    away = b.fcmp_ordered("<", call_intrinsic(b, "fabs", back), call_intrinsic(b, "fabs", v))
    step = b.select(away, const(ity, 1), const(ity, -1))
    return b.bitcast(b.select(fix, b.add(bits, step), bits), ty)


def _is_quotient_product(e):
    """A multiply of two quotient-valued math functions (mathlib.QUOTIENTS) of its dtype."""
    return e.op == "multiply" and all(
        a.op in UNARY_MATH and a.dtype == e.dtype and has_quotient(a.op, e.dtype)
        for a in e.args)


def _non_nan_constant(v):
    """True for an LLVM float constant (scalar or splat vector) that is not NaN."""
    if not isinstance(v, ir.Constant):
        return False
    items = v.constant if isinstance(v.constant, (list, tuple)) else [v]
    return all(isinstance(x.constant, float) and x.constant == x.constant for x in items)


def _mul(lw, args, dt):
    return lw.b.fmul(*args) if dt.startswith("float") else lw.b.mul(*args)


def _fsign(lw, args, dt):
    b, x = lw.b, args[0]
    one = const(x.type, 1.0)
    s = call_intrinsic(b, "copysign", one, x)
    s = b.select(b.fcmp_ordered("==", x, const(x.type, 0.0)), const(x.type, 0.0), s)
    return b.select(b.fcmp_unordered("uno", x, x), x, s)


def _fdivmod(b, a, c):
    """(a // c, a % c) for floats as NumPy computes them (npy_divmod): from C's fmod, so
    that 1 // 0.1 is 9 and 1 % 0.1 is 0.1 (floor(1 / 0.1) would round up to 10), with the
    remainder taking the divisor's sign, and inf // c NaN. A truth test of a float is
    "not equal to 0", which NaN passes, as in C."""
    zero, one = const(a.type, 0.0), const(a.type, 1.0)
    nonzero = lambda v: b.fcmp_unordered("!=", v, zero)  # noqa: E731
    mod = b.frem(a, c)                      # C fmod: a libm call per element
    div = b.fdiv(b.fsub(a, mod), c)
    flip = b.and_(nonzero(mod), b.xor(b.fcmp_ordered("<", c, zero),
                                      b.fcmp_ordered("<", mod, zero)))
    mod = b.select(nonzero(mod), b.select(flip, b.fadd(mod, c), mod),
                   call_intrinsic(b, "copysign", zero, c))
    div = b.select(flip, b.fsub(div, one), div)
    floor = call_intrinsic(b, "floor", div)
    floor = b.select(b.fcmp_ordered(">", b.fsub(div, floor), const(a.type, 0.5)),
                     b.fadd(floor, one), floor)
    quotient = b.fdiv(a, c)
    floor = b.select(nonzero(div), floor, call_intrinsic(b, "copysign", zero, quotient))
    by_zero = b.fcmp_ordered("==", c, zero)
    return b.select(by_zero, quotient, floor), mod


def _fdivmod_of(lw, args, dt, which):
    """`_fdivmod`'s result `which`; float16 is computed in float32 and rounded once, as
    NumPy's half loops do (each step rounded to half would differ)."""
    b = lw.b
    if dt != "float16":
        return _fdivmod(b, *args)[which]
    ty = args[0].type
    wide = ir.VectorType(ir.FloatType(), ty.count) if isinstance(ty, ir.VectorType) \
        else ir.FloatType()
    out = _fdivmod(b, *[b.fpext(a, wide) for a in args])[which]
    return b.fptrunc(out, ty)


def _ffloor_divide(lw, args, dt):
    return _fdivmod_of(lw, args, dt, 0)


def _fmod(lw, args, dt):
    """NumPy's float mod: the result takes the divisor's sign."""
    return _fdivmod_of(lw, args, dt, 1)


def _imod_or_div(lw, args, dt, want_mod):
    """Python/NumPy floor semantics for integer // and % (x // 0 = 0, x % 0 = 0; signed
    x // -1 = -x wrapping, as NumPy gives MIN // -1 = MIN)."""
    b, a, c = lw.b, args[0], args[1]
    zero = const(a.type, 0)
    safe = b.select(b.icmp_unsigned("==", c, zero), const(a.type, 1), c)
    if not is_signed(dt):
        q, r = b.udiv(a, safe), b.urem(a, safe)
    else:
        # MIN / -1 overflows: sdiv traps (SIGFPE on x86), so divide by 1 and negate instead
        minus_one = b.icmp_signed("==", c, const(a.type, -1))
        safe = b.select(minus_one, const(a.type, 1), safe)
        q, r = b.sdiv(a, safe), b.srem(a, safe)
        q = b.select(minus_one, b.sub(zero, q), q)
        adjust = b.and_(b.icmp_signed("!=", r, zero),
                        b.icmp_signed("<", b.xor(r, safe), zero))
        q = b.select(adjust, b.sub(q, const(a.type, 1)), q)
        r = b.select(adjust, b.add(r, safe), r)
    out = r if want_mod else q
    return b.select(b.icmp_unsigned("==", c, zero), zero, out)


_FLOAT_OPS = {
    "add": lambda lw, a, dt: lw.b.fadd(*a),
    "subtract": lambda lw, a, dt: lw.b.fsub(*a),
    "multiply": lambda lw, a, dt: lw.b.fmul(*a),
    "divide": lambda lw, a, dt: lw.b.fdiv(*a),
    "negative": lambda lw, a, dt: lw.b.fneg(a[0]),
    "abs": lambda lw, a, dt: call_intrinsic(lw.b, "fabs", a[0]),
    "square": lambda lw, a, dt: lw.b.fmul(a[0], a[0]),
    "sqrt": lambda lw, a, dt: call_intrinsic(lw.b, "sqrt", a[0]),
    "rsqrt": lambda lw, a, dt: lw.b.fdiv(const(a[0].type, 1.0),
                                         call_intrinsic(lw.b, "sqrt", a[0])),
    "reciprocal": lambda lw, a, dt: lw.b.fdiv(const(a[0].type, 1.0), a[0]),
    "floor": lambda lw, a, dt: call_intrinsic(lw.b, "floor", a[0]),
    "ceil": lambda lw, a, dt: call_intrinsic(lw.b, "ceil", a[0]),
    "round": lambda lw, a, dt: call_intrinsic(lw.b, "roundeven", a[0]),
    "sign": _fsign,
    "floor_divide": _ffloor_divide,
    "mod": _fmod,
}


def _isign(lw, a, dt):
    b, x = lw.b, a[0]
    zero = const(x.type, 0)
    pos = b.zext(b.icmp_signed(">", x, zero) if is_signed(dt) else
                 b.icmp_unsigned(">", x, zero), x.type)
    if not is_signed(dt):
        return pos
    return b.sub(pos, b.zext(b.icmp_signed("<", x, zero), x.type))


def _shift_amount_in_range(lw, amount):
    """amount < bit width, compared unsigned so a negative amount is out of range too (as
    NumPy's npy_lshift / npy_rshift test it)."""
    width = element_type(amount.type).width
    return lw.b.icmp_unsigned("<", amount, const(amount.type, width))


def _left_shift(lw, a, dt):
    """NumPy's x << y: 0 for an out-of-range amount. The amount is masked first so the
    shift itself is never LLVM poison (shl by >= width), whichever lane is selected."""
    b, x, y = lw.b, a[0], a[1]
    width = element_type(x.type).width
    shifted = b.shl(x, b.and_(y, const(y.type, width - 1)))
    return b.select(_shift_amount_in_range(lw, y), shifted, const(x.type, 0))


def _right_shift(lw, a, dt):
    """NumPy's x >> y: for an out-of-range amount the sign fill (0, or -1 for negative
    signed x), which is exactly an arithmetic shift by width - 1."""
    b, x, y = lw.b, a[0], a[1]
    width = element_type(x.type).width
    top = const(y.type, width - 1)
    if is_signed(dt):
        return b.ashr(x, b.select(_shift_amount_in_range(lw, y), y, top))
    shifted = b.lshr(x, b.and_(y, top))
    return b.select(_shift_amount_in_range(lw, y), shifted, const(x.type, 0))


_INT_OPS = {
    "add": lambda lw, a, dt: lw.b.add(*a),
    "subtract": lambda lw, a, dt: lw.b.sub(*a),
    "multiply": lambda lw, a, dt: lw.b.mul(*a),
    "negative": lambda lw, a, dt: lw.b.sub(const(a[0].type, 0), a[0]),
    "abs": lambda lw, a, dt: (call_intrinsic(lw.b, "abs", a[0], ir.Constant(I1, 0))
                              if is_signed(dt) else a[0]),
    "square": lambda lw, a, dt: lw.b.mul(a[0], a[0]),
    "sign": _isign,
    "floor_divide": lambda lw, a, dt: _imod_or_div(lw, a, dt, False),
    "mod": lambda lw, a, dt: _imod_or_div(lw, a, dt, True),
    "floor": lambda lw, a, dt: a[0],
    "ceil": lambda lw, a, dt: a[0],
    "round": lambda lw, a, dt: a[0],
    # bitwise: also the bool (i1) ops, where they are the logical ones
    "bitwise_and": lambda lw, a, dt: lw.b.and_(*a),
    "bitwise_or": lambda lw, a, dt: lw.b.or_(*a),
    "bitwise_xor": lambda lw, a, dt: lw.b.xor(*a),
    "bitwise_not": lambda lw, a, dt: lw.b.not_(a[0]),
    "left_shift": _left_shift,
    "right_shift": _right_shift,
}

__all__ = ["Expr", "input", "constant", "apply", "supports", "OPS", "Lowerer", "I8"]
