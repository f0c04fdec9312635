"""Python operators for every kind of value, routed through `gk.ops`.

Tensor, Variable, KerasTensor and ir.Tracer all inherit these, so `x @ w + b` means the same
op whatever x, w and b are. `gk.ops` is imported lazily: ops sit above the value classes.
"""
from graphkit.ops.primitive import ops_namespace as _o


class OperatorMixin:
    __slots__ = ()
    __array_priority__ = 1000  # NumPy defers binary operators to us

    def __add__(self, o): return _o().add(self, o)
    def __radd__(self, o): return _o().add(o, self)
    def __sub__(self, o): return _o().subtract(self, o)
    def __rsub__(self, o): return _o().subtract(o, self)
    def __mul__(self, o): return _o().multiply(self, o)
    def __rmul__(self, o): return _o().multiply(o, self)
    def __truediv__(self, o): return _o().divide(self, o)
    def __rtruediv__(self, o): return _o().divide(o, self)
    def __floordiv__(self, o): return _o().floor_divide(self, o)
    def __rfloordiv__(self, o): return _o().floor_divide(o, self)
    def __mod__(self, o): return _o().mod(self, o)
    def __rmod__(self, o): return _o().mod(o, self)
    def __pow__(self, o): return _o().power(self, o)
    def __rpow__(self, o): return _o().power(o, self)
    def __matmul__(self, o): return _o().matmul(self, o)
    def __rmatmul__(self, o): return _o().matmul(o, self)
    def __neg__(self): return _o().negative(self)
    def __pos__(self): return self
    def __abs__(self): return _o().abs(self)
    def __invert__(self): return _o().logical_not(self)
    def __and__(self, o): return _o().logical_and(self, o)
    def __rand__(self, o): return _o().logical_and(o, self)
    def __or__(self, o): return _o().logical_or(self, o)
    def __ror__(self, o): return _o().logical_or(o, self)
    def __xor__(self, o): return _o().logical_xor(self, o)
    def __rxor__(self, o): return _o().logical_xor(o, self)
    def __lt__(self, o): return _o().less(self, o)
    def __le__(self, o): return _o().less_equal(self, o)
    def __gt__(self, o): return _o().greater(self, o)
    def __ge__(self, o): return _o().greater_equal(self, o)
    # `x == None` is a Python identity test in user code (`if mask == None`), never data:
    # as TF and JAX, it answers False instead of failing to convert None.
    def __eq__(self, o): return False if o is None else _o().equal(self, o)
    def __ne__(self, o): return True if o is None else _o().not_equal(self, o)
    __hash__ = object.__hash__

    def __getitem__(self, key): return _o().getitem(self, key)

    # NumPy-style conveniences that Keras users reach for.
    @property
    def T(self): return _o().transpose(self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _o().reshape(self, shape)

    def astype(self, dtype): return _o().cast(self, dtype)
