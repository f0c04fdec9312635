"""Composite ops called on KerasTensors: one functional-graph node per public call.

`gk.ops.mean(h, axis=-1)` is written with primitives (sum, divide); bound one by one on
KerasTensors, each would become a node of its own. As in Keras, the public call is the node
instead: every composite op in the `gk.ops` namespace is replaced by a wrapper with the same
signature that hands calls on KerasTensors to `keras_tensor.symbolic_op_call` (which records
the node, or just runs the composite where nodes are not recorded).

The wrapper is generated per op with the op's own parameters: eager calls, the debugging hot
path, then pay one exact-type test per parameter and no *args/**kwargs packing. Calls made
inside graphkit by module-level name (softmax calling exp) skip the wrapper altogether.
"""
import functools
import inspect
import types

from graphkit.core import keras_tensor as kt
from graphkit.ops.primitive import PRIMITIVES

# Public names that are not ops on tensors: they convert data or return Python values.
_NOT_OPS = frozenset({"array", "bind", "convert_to_numpy", "convert_to_tensor", "dtype",
                      "is_tensor", "ndim", "shape", "size"})

# The exact types that may hold a KerasTensor: the quick test of the wrapper. A match runs
# the full (nested) check, so an eager `axis=(1, 2)` costs a little more, never a node.
_MAYBE_SYMBOLIC = frozenset({kt.KerasTensor, list, tuple, dict})

# Public op name -> the wrapped public function: what an op node may call (and load).
NODE_OPS = {}


def wrap_namespace(namespace):
    """Replace each composite op of `namespace` (the gk.ops module dict) by its wrapper."""
    for name, value in list(namespace.items()):
        if _is_composite_op(name, value):
            namespace[name] = NODE_OPS[name] = symbolic_aware(name, value)


def _is_composite_op(name, value):
    # An op that is a single primitive of the same name is recorded by KerasTensor._bind.
    return (isinstance(value, types.FunctionType) and not name.startswith("_")
            and name not in PRIMITIVES and name not in _NOT_OPS
            and value.__module__.startswith("graphkit.ops."))


def has_keras_tensor(value):
    """True when `value` is, or nests (lists, tuples, dicts), a KerasTensor."""
    if isinstance(value, kt.KerasTensor):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_keras_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(has_keras_tensor(v) for v in value.values())
    return False


def symbolic_aware(name, fn):
    """`fn` behind a generated wrapper with its signature (see the module docstring)."""
    env = {"_fn": fn, "_name": name, "_SYM": _MAYBE_SYMBOLIC, "_has_kt": has_keras_tensor,
           "_symbolic_call": kt.symbolic_op_call}
    spec = _Signature(fn, env)
    if not spec.quick_checks:  # no parameters: nothing can be symbolic
        return fn
    args = f"({', '.join(spec.positional)},)" if spec.positional else "()"
    kwargs = "{" + ", ".join(spec.keywords) + "}"
    full_check = f"_has_kt({args})" + (f" or _has_kt({kwargs})" if spec.keywords else "")
    source = (f"def _op({', '.join(spec.params)}):\n"
              f"    if ({' or '.join(spec.quick_checks)}) and ({full_check}):\n"
              f"        return _symbolic_call(_name, _fn, {args}, {kwargs})\n"
              f"    return _fn({', '.join(spec.forward)})\n")
    exec(compile(source, f"<gk.ops.{name} wrapper>", "exec"), env)  # noqa: S102
    op = functools.update_wrapper(env["_op"], fn)
    # Saved by name (Lambda layers, activations): the name must load the public function.
    op.__module__ = "graphkit.ops"
    return op


class _Signature:
    """The pieces of a wrapper's source, from `fn`'s parameters: the parameter list, one
    quick type test per parameter, the call's positional values and keyword items (for the
    symbolic call) and the forwarded call's arguments. Defaults are the op's own objects."""

    def __init__(self, fn, env):
        self.params, self.quick_checks, self.forward = [], [], []
        self.positional, self.keywords = [], []
        params = list(inspect.signature(fn).parameters.values())
        starred = False  # a `*args` or bare `*` already separates keyword-only parameters
        for i, p in enumerate(params):
            if p.name.startswith("_"):
                raise TypeError(f"gk.ops.{fn.__name__}: parameter {p.name!r} would clash with "
                                "the names of its symbolic-call wrapper")
            default = ""
            if p.default is not p.empty:
                env[f"_d{i}"] = p.default
                default = f"=_d{i}"
            if p.kind is p.VAR_POSITIONAL:
                starred = True
                self._add(f"*{p.name}", p.name, f"*{p.name}", positional=f"*{p.name}")
            elif p.kind is p.VAR_KEYWORD:
                self._add(f"**{p.name}", p.name, f"**{p.name}", keyword=f"**{p.name}")
            elif p.kind is p.KEYWORD_ONLY:
                if not starred:
                    self.params.append("*")
                    starred = True
                self._add(p.name + default, f"type({p.name}) in _SYM", f"{p.name}={p.name}",
                          keyword=f"{p.name!r}: {p.name}")
            else:
                self._add(p.name + default, f"type({p.name}) in _SYM", p.name,
                          positional=p.name)
                last_positional_only = p.kind is p.POSITIONAL_ONLY and (
                    i + 1 == len(params) or params[i + 1].kind is not p.POSITIONAL_ONLY)
                if last_positional_only:
                    self.params.append("/")

    def _add(self, param, quick_check, forward, positional=None, keyword=None):
        self.params.append(param)
        # A `*args` or `**kwargs` is tested as a whole: non-empty means a full check.
        self.quick_checks.append(quick_check)
        self.forward.append(forward)
        if positional:
            self.positional.append(positional)
        if keyword:
            self.keywords.append(keyword)
