"""NumPy's `astype` with graphkit's one meaning of float -> int: saturating.

NaN converts to 0 and values out of range to the integer type's limits, as compiled code
(LLVM's fptosi.sat / fptoui.sat) and XLA do. NumPy leaves those values to the C cast: on x86
the "integer indefinite" INT_MIN, or a wrapped value for the small types, with a warning.
Eager casts and conversions of raw data go through here so that both modes agree.
"""
import numpy as np

_INT_INFO = {name: np.iinfo(name) for name in ("int8", "int16", "int32", "int64", "uint8",
                                               "uint16", "uint32", "uint64")}


def astype(x, dtype):
    """`x.astype(dtype)` (no copy when the dtype is x's), saturating float -> int."""
    if x.dtype.kind == "f" and x.size:
        info = _INT_INFO.get(np.dtype(dtype).name)
        if info is not None and not _in_range(x, info):
            return _saturate(x, dtype, info)
    return x.astype(dtype, copy=False)


def _in_range(x, info):
    """Whether every element converts exactly by truncation (False with any NaN). The limits
    are powers of two (max + 1 rounds to one in float64), exact in every float type wide
    enough to hold them, so low <= x < high is exact."""
    return float(x.min()) >= float(info.min) and float(x.max()) < float(info.max) + 1.0


def _saturate(x, dtype, info):
    with np.errstate(invalid="ignore", over="ignore"):
        out = x.astype(dtype)
    wide = x.astype(np.float32) if x.dtype.itemsize < 4 else x  # float16 cannot hold 2^31
    out[np.isnan(wide)] = 0
    out[wide >= float(info.max) + 1.0] = info.max
    out[wide < float(info.min)] = info.min
    return out
