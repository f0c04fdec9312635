"""Value types of the IR and the effect kinds that CSE and DCE respect.

A `TensorType` is a shape (a tuple of ints, `None` for a dimension unknown in symbolic
mode) and a dtype name. Its text form is compact: `f32[32,128]`, `i32[]` for a scalar,
`bool[4,?]` with an unknown dimension.
"""
import numpy as np

from graphkit import dtypes

# dtype name <-> short name used in IR text.
SHORT_DTYPE = {
    "float16": "f16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bool": "bool",
}
LONG_DTYPE = {v: k for k, v in SHORT_DTYPE.items()}

# Effects. A pure node may be merged (CSE) or removed when unused (DCE). A random node
# reads explicit seed state and is kept and never merged, so that the number and order of
# draws matches eager execution. Variable assigns are graph outputs, so they are never dead.
PURE, RANDOM = "pure", "random"


class TensorType:
    __slots__ = ("shape", "dtype", "np_dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtypes.standardize_dtype(dtype)
        self.np_dtype = np.dtype(self.dtype)

    @classmethod
    def of(cls, value):
        """The type of anything with `.shape` and `.dtype` (Tensor, Tracer, ndarray, Aval)."""
        return cls(tuple(value.shape), dtypes.standardize_dtype(value.dtype))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        """Number of elements, or None when a dimension is unknown."""
        n = 1
        for d in self.shape:
            if d is None:
                return None
            n *= d
        return n

    @property
    def nbytes(self):
        n = self.size
        return None if n is None else n * self.np_dtype.itemsize

    def __eq__(self, other):
        return (isinstance(other, TensorType) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __str__(self):
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{SHORT_DTYPE[self.dtype]}[{dims}]"

    def __repr__(self):
        return f"TensorType({self})"


def parse_type(text):
    """`f32[32,128]` -> TensorType. Raises ValueError naming the text otherwise."""
    text = text.strip()
    if not text.endswith("]") or "[" not in text:
        raise ValueError(f"invalid type {text!r}: expected a form such as f32[32,128]")
    short, dims = text[:-1].split("[", 1)
    if short not in LONG_DTYPE:
        raise ValueError(f"invalid type {text!r}: unknown dtype {short!r} "
                         f"(expected one of {', '.join(LONG_DTYPE)})")
    shape = []
    for d in (dims.split(",") if dims.strip() else []):
        d = d.strip()
        if d == "?":
            shape.append(None)
        elif d.isdigit():
            shape.append(int(d))
        else:
            raise ValueError(f"invalid type {text!r}: dimension {d!r} is not an int or '?'")
    return TensorType(shape, LONG_DTYPE[short])
