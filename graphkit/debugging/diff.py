"""How far apart two arrays are: absolute, relative and ULP errors, and a tolerance test.

ULPs (units in the last place) count how many representable floats lie between two values,
so one number means the same thing at every magnitude: 1.0 and the next float32 after it
are 1 ULP apart, as are 1e30 and its neighbour. Floats are mapped to integers that are
ordered like the floats (+0 and -0 both map to 0), and the distance is their difference.
"""
import numpy as np

# Per dtype: the bits to read a float as, and default (rtol, atol) for "close".
_INT_VIEW = {"float16": np.int16, "float32": np.int32, "float64": np.int64}
DEFAULT_TOLERANCE = {"float16": (1e-2, 1e-3), "float32": (1e-4, 1e-5),
                     "float64": (1e-9, 1e-12)}


def default_tolerance(dtype):
    """(rtol, atol) for comparing an eager and a compiled result of this dtype; exact for
    integers and booleans."""
    return DEFAULT_TOLERANCE.get(np.dtype(dtype).name, (0.0, 0.0))


def _ordered_keys(a):
    """Integers ordered like the floats of `a` (same-width signed ints)."""
    bits = a.view(_INT_VIEW[a.dtype.name]).astype(np.int64)
    sign_bit = np.int64(np.iinfo(_INT_VIEW[a.dtype.name]).min)
    # A negative float's bits read as a negative int that grows as the float shrinks;
    # strip the sign bit and negate to get magnitude order back.
    return np.where(bits < 0, -(bits - sign_bit), bits)


def ulp_distance(a, b):
    """Elementwise ULP distance between two float arrays of the same dtype, as uint64.

    NaN against NaN is 0 apart; NaN against a number is the largest uint64 (never close).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.dtype.name not in _INT_VIEW:
        raise TypeError(f"ulp_distance: expected two float16/32/64 arrays of one dtype, "
                        f"received {a.dtype.name} and {b.dtype.name}")
    ka, kb = _ordered_keys(a), _ordered_keys(b)
    # Same sign: the difference fits an int64. Opposite signs: |ka| + |kb| may not, but
    # fits a uint64.
    same = (ka >= 0) == (kb >= 0)
    dist = np.where(same, np.abs(ka - np.where(same, kb, 0)).astype(np.uint64),
                    np.abs(ka).astype(np.uint64) + np.abs(kb).astype(np.uint64))
    na, nb = np.isnan(a), np.isnan(b)
    dist = np.where(na & nb, np.uint64(0), dist)
    return np.where(na ^ nb, np.iinfo(np.uint64).max, dist).astype(np.uint64)


class ArrayDiff:
    """The errors of `actual` against `reference`: max absolute, relative and ULP errors.

    `mismatch` is set (and every error is inf) when shapes or dtypes differ.
    """

    def __init__(self, reference, actual):
        self.reference = np.asarray(reference)
        self.actual = np.asarray(actual)
        self.mismatch = None
        if self.reference.shape != self.actual.shape or \
                self.reference.dtype != self.actual.dtype:
            self.mismatch = (f"expected {self.reference.dtype.name}{list(self.reference.shape)}, "
                             f"got {self.actual.dtype.name}{list(self.actual.shape)}")
            self.max_abs = self.max_rel = self.max_ulp = float("inf")
            return
        self.max_abs, self.max_rel = self._abs_rel()
        self.max_ulp = self._ulp()

    @property
    def dtype(self):
        return self.reference.dtype

    def _abs_rel(self):
        ref = self.reference.astype(np.float64)
        act = self.actual.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(act - ref)
        both_nan = np.isnan(ref) & np.isnan(act)
        same_inf = np.isinf(ref) & (ref == act)
        err = np.where(both_nan | same_inf, 0.0, err)
        err = np.where(np.isnan(err), np.inf, err)  # NaN against a number
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(err == 0, 0.0, err / np.abs(ref))
        rel = np.where(np.isnan(rel), np.inf, rel)
        return _max(err), _max(rel)

    def _ulp(self):
        if self.dtype.name in _INT_VIEW:
            d = ulp_distance(self.reference, self.actual)
            top = int(d.max()) if d.size else 0
            return float("inf") if top == np.iinfo(np.uint64).max else top
        # Integers and booleans: one step is one unit.
        diff = np.abs(self.reference.astype(np.int64) - self.actual.astype(np.int64))
        return int(diff.max()) if diff.size else 0

    def is_close(self, rtol, atol):
        """numpy.allclose's test (|actual - reference| <= atol + rtol * |reference|), NaN
        equal to NaN."""
        if self.mismatch:
            return False
        if not self.reference.size:
            return True
        return bool(np.allclose(self.actual.astype(np.float64),
                                self.reference.astype(np.float64), rtol=rtol, atol=atol,
                                equal_nan=True))


def _max(a):
    return float(a.max()) if a.size else 0.0
