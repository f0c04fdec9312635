"""graphkit dtypes <-> llvmlite IR types, constants and vector helpers.

In memory a dtype has NumPy's layout (bool is one byte). In registers a bool is `i1`
(`register_type`), so comparisons and `where` need no conversions; `load_as_register` and
`store_from_register` convert at the memory boundary.

Vector constants print compactly (`zeroinitializer`, `poison`, `splat (float 1.0)`):
llvmlite spells every lane out, and the many `<16 x float> <float 0x0, float 0x0, ...>`
literals were ~40% of a program's IR text (Python time to print, LLVM time to parse).
"""
import math

from llvmlite import ir

from graphkit import dtypes

I1, I8, I16, I32, I64 = (ir.IntType(n) for n in (1, 8, 16, 32, 64))
F16, F32, F64 = ir.HalfType(), ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

_MEMORY = {
    "bool": I8, "int8": I8, "uint8": I8, "int16": I16, "uint16": I16, "int32": I32,
    "uint32": I32, "int64": I64, "uint64": I64, "float16": F16, "float32": F32,
    "float64": F64,
}


def memory_type(dtype):
    """The scalar type a dtype is stored as."""
    try:
        return _MEMORY[dtype]
    except KeyError:
        raise ValueError(f"codegen: unsupported dtype {dtype!r}; expected one of "
                         f"{sorted(_MEMORY)}") from None


def register_type(dtype):
    """The scalar type a dtype is computed in (bool -> i1)."""
    return I1 if dtype == "bool" else memory_type(dtype)


def vector_of(scalar_type, lanes):
    return scalar_type if lanes == 1 else ir.VectorType(scalar_type, lanes)


def element_type(ty):
    return ty.element if isinstance(ty, ir.VectorType) else ty


def lanes_of(ty):
    return ty.count if isinstance(ty, ir.VectorType) else 1


def is_signed(dtype):
    return dtype in dtypes.INTS


class _Literal(ir.Constant):
    """A vector constant printed as `text` (`zeroinitializer`, `poison`, `splat (...)`) rather
    than lane by lane. `.constant` keeps the per-lane constants, which llvmlite checks
    (shufflevector masks) and emitters may read."""

    def __init__(self, ty, lanes, text):
        self.type, self.constant, self._text = ty, lanes, text

    def _get_reference(self):
        return self._text


def _is_zero(value):
    """Is `value` a zero whose bit pattern is all zeros (not -0.0)?"""
    if isinstance(value, float):
        return value == 0.0 and math.copysign(1.0, value) > 0
    return value is not None and not isinstance(value, ir.Value) and value == 0


_splat_syntax = []   # [bool]: does the LLVM we compile with parse `splat (ty value)`?


def _has_splat_syntax():
    """LLVM >= 19 reads `splat (...)` constants. Asked on the first non-zero vector constant
    (lowering loads llvmlite.binding anyway: it compiles what it lowers)."""
    if not _splat_syntax:
        from graphkit.codegen.target import llvm
        _splat_syntax.append(tuple(llvm.llvm_version_info) >= (19,))
    return _splat_syntax[0]


def const(ty, value):
    """A constant of scalar or vector type `ty` (vectors get `value` in every lane)."""
    if isinstance(ty, ir.VectorType):
        lane = ir.Constant(ty.element, value)
        lanes = (lane,) * ty.count
        if _is_zero(value):
            return _Literal(ty, lanes, "zeroinitializer")
        if _has_splat_syntax():
            return _Literal(ty, lanes, f"splat ({lane})")
        return ir.Constant(ty, list(lanes))
    return ir.Constant(ty, value)


def zeros(ty):
    """The all-zero constant of type `ty` (`zeroinitializer` for a vector)."""
    return const(ty, 0)


def poison(ty):
    """A vector whose lanes are all poison (the base of an insertelement chain)."""
    return _Literal(ty, (ir.Constant(ty.element, ir.Undefined),) * ty.count, "poison")


def splat(builder, value, lanes):
    """Broadcast a scalar SSA value to a vector of `lanes` lanes (LLVM's canonical form:
    insert into lane 0 of poison, shuffle with an all-zero mask)."""
    if lanes == 1:
        return value
    vty = ir.VectorType(value.type, lanes)
    v = builder.insert_element(poison(vty), value, I32(0))
    return builder.shuffle_vector(v, poison(vty), zeros(ir.VectorType(I32, lanes)))


def iota(ty):
    """<0, 1, ..., n-1> of integer vector type `ty`."""
    return ir.Constant(ty, [ir.Constant(ty.element, i) for i in range(ty.count)])


def intrinsic(module, name, ret, args):
    """Declare (once) an LLVM intrinsic or external function."""
    try:
        return module.get_global(name)
    except KeyError:
        return ir.Function(module, ir.FunctionType(ret, args), name)


def type_suffix(ty):
    """LLVM's overload suffix: f32, v16f32, i64, v8i1..."""
    el = element_type(ty)
    if isinstance(el, ir.IntType):
        base = f"i{el.width}"
    else:
        base = {ir.HalfType: "f16", ir.FloatType: "f32", ir.DoubleType: "f64"}[type(el)]
    return f"v{ty.count}{base}" if isinstance(ty, ir.VectorType) else base


def call_intrinsic(builder, base, value, *more, ret=None):
    """Call an overloaded intrinsic such as llvm.fabs/llvm.sqrt/llvm.fma on `value`'s type."""
    ty = value.type
    fn = intrinsic(builder.module, f"llvm.{base}.{type_suffix(ty)}", ret or ty,
                   [ty] + [m.type for m in more])
    return builder.call(fn, [value, *more])
