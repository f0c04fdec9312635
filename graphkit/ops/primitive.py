"""One definition per op: a `Primitive`, and `bind`, the single door every op goes through.

A Primitive holds everything graphkit knows about an op:
- `infer(*avals, **attrs)`: the output `Aval`(s) (shape and dtype) from input avals alone.
  Shapes may hold `None` for dimensions unknown in symbolic mode.
- `eager(*arrays, **attrs)`: the NumPy kernel.
- `grad(ct, out, *inputs, **attrs)`: the vector-Jacobian product, written with `gk.ops`, so
  that it runs on any kind of value (eager Tensors on the tape, Tracers in the IR autodiff).
  It returns one cotangent (or None) per input.
- `category`, `effect` and, for elementwise ops, `scalar_expr`: what fusion and codegen read.

`bind` dispatches on the kinds of its arguments. Each value class carries a
`_bind_priority`; the highest one present handles the call through its `_bind` classmethod
(Tracer > KerasTensor > Tensor). Adding a new kind of value therefore changes no op.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional


CATEGORIES = ("elementwise", "reduction", "matmul", "conv", "pool", "layout", "gather",
              "random", "creation", "opaque")
EFFECTS = ("pure", "random")


class Aval:
    """An abstract value: a shape (tuple, `None` for unknown dims) and a dtype name."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = dtype

    @property
    def ndim(self):
        return len(self.shape)

    def __eq__(self, other):
        return isinstance(other, Aval) and self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"Aval({self.shape}, {self.dtype})"


@dataclass(eq=False)
class Primitive:
    name: str
    eager: Callable
    infer: Callable
    grad: Optional[Callable] = None
    category: str = "opaque"
    effect: str = "pure"
    n_outputs: int = 1
    # For elementwise ops: name of the scalar operation codegen emits (often `name`).
    scalar_expr: Optional[str] = None
    # Names of attrs, in order, so that printers and parsers have a canonical form.
    attr_names: tuple = ()
    # True when `grad` also takes `needs=` (one bool per input; the eager tape passes it):
    # the rule may then skip, and return None for, the cotangents of unneeded inputs.
    grad_needs: bool = False
    # What `grad` reads as values: input positions and/or "out". None means everything.
    # The eager tape keeps only these alive for the backward pass; the rule gets the other
    # operands as stand-ins with only `shape`, `dtype` and `ndim`.
    grad_uses: Optional[tuple] = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.category not in CATEGORIES:
            raise ValueError(f"Primitive {self.name!r}: unknown category {self.category!r}")
        if self.effect not in EFFECTS:
            raise ValueError(f"Primitive {self.name!r}: unknown effect {self.effect!r}")
        if self.name in PRIMITIVES:
            raise ValueError(f"Primitive {self.name!r} is defined twice")
        PRIMITIVES[self.name] = self

    @property
    def differentiable(self):
        return self.grad is not None

    def abstract_eval(self, avals, attrs):
        """Output avals as a tuple, whatever `n_outputs` is."""
        out = self.infer(*avals, **attrs)
        return tuple(out) if self.n_outputs > 1 else (out,)

    def __repr__(self):
        return f"<Primitive {self.name}>"


PRIMITIVES = {}


def get_primitive(name):
    try:
        return PRIMITIVES[name]
    except KeyError:
        from graphkit.errors import unknown_identifier
        raise unknown_identifier("op", name, PRIMITIVES) from None


class ShapeError(ValueError):
    """A shape rule rejected its operands. The message names the op and the shapes."""


# -- dispatch ---------------------------------------------------------------------------

# The GradientTapes that are recording now (core/tape.py pushes and pops them). It lives here,
# at the bottom, so that `bind` can record without importing the tape.
ACTIVE_TAPES = []


def bind(prim, *args, **attrs):
    """Apply `prim` to value arguments (Tensor, KerasTensor, Tracer) with static `attrs`.

    Returns one value, or a tuple for multi-output primitives.
    """
    # The eager fast path: every operand is exactly a Tensor, told apart with one type check
    # per operand (this runs for every op of an eager step, so no helper call).
    tensor = _TENSOR[0]
    if args:
        for a in args:
            if type(a) is not tensor:
                break
        else:
            outs = tensor._bind(prim, args, attrs)
            if ACTIVE_TAPES and prim.grad is not None:
                for tape in ACTIVE_TAPES:
                    tape._record(prim, args, outs, attrs)
            return outs
    kind = None
    for a in args:
        p = getattr(type(a), "_bind_priority", None)
        if p is None:
            raise TypeError(
                f"{prim.name}: operands must be graphkit values (convert them with "
                f"gk.ops.convert_to_tensor first), received {type(a).__name__}")
        if kind is None or p > kind._bind_priority:
            kind = type(a)
    if kind is None:  # creation ops with no operands
        from graphkit.core.tensor import Tensor
        kind = Tensor
    outs = kind._bind(prim, args, attrs)
    if ACTIVE_TAPES and kind._records_gradients and prim.grad is not None:
        for tape in ACTIVE_TAPES:
            tape._record(prim, args, outs, attrs)
    return outs


# graphkit.core.tensor registers its Tensor class here when it is imported (it imports this
# module, so this module cannot import it at load time).
_TENSOR = [None]


def infer_avals(prim, args, attrs):
    """Run the shape rule on values; errors name the op and every operand's shape."""
    avals = [Aval(a.shape, a.dtype) for a in args]
    try:
        return prim.abstract_eval(avals, attrs)
    except ShapeError:
        raise
    except Exception as e:  # a rule that failed without a clear message
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in avals)
        raise ShapeError(f"{prim.name}: invalid operands ({shapes}): {e}") from e


def ops_namespace():
    """The `gk.ops` module, imported on first use.

    Gradient rules and value operators call ops defined in modules above their own; a lazy
    lookup keeps the import graph pointing down.
    """
    global _OPS
    if _OPS is None:
        from graphkit import ops
        _OPS = ops
    return _OPS


_OPS = None
