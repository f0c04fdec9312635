"""graphkit dtypes <-> llvmlite IR types, constants and vector helpers.

In memory a dtype has NumPy's layout (bool is one byte). In registers a bool is `i1`
(`register_type`), so comparisons and `where` need no conversions; `load_as_register` and
`store_from_register` convert at the memory boundary.
"""
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


def is_float_type(ty):
    return isinstance(element_type(ty), (ir.HalfType, ir.FloatType, ir.DoubleType))


def is_signed(dtype):
    return dtype in dtypes.INTS


def const(ty, value):
    """A constant of scalar or vector type `ty` (vectors get `value` in every lane)."""
    if isinstance(ty, ir.VectorType):
        return ir.Constant(ty, [ir.Constant(ty.element, value)] * ty.count)
    return ir.Constant(ty, value)


def splat(builder, value, lanes):
    """Broadcast a scalar SSA value to a vector of `lanes` lanes."""
    if lanes == 1:
        return value
    vty = ir.VectorType(value.type, lanes)
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), value, I32(0))
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))


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
