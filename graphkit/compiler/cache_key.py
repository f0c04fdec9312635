"""The signature of a call, which keys the cache of a jitted function.

A signature holds the nesting structure of the arguments, one spec per leaf, the static
arguments and the configuration that changes what a trace produces (floatx):
- a Tensor or NumPy array leaf is traced: its spec is its shape and dtype;
- a Variable leaf is identified by the variable (its value is read at call time);
- any other leaf (numbers, NumPy scalars, strings, None, layers, optimizers...) is static:
  hashable values by value, other objects by identity.
The variables that a trace touches are checked separately (see jit.py): an entry whose
variables no longer exist is stale.
"""
import inspect

import numpy as np

from graphkit import config, tree
from graphkit.core.variable import Variable
from graphkit.ir.tracer import leaf_path, with_masks
from graphkit.ir.types import TensorType

_SCALARS = (type(None), bool, int, float, complex, str, bytes)


class StaticArgumentError(TypeError):
    pass


def leaf_spec(leaf):
    """A hashable spec of one argument leaf (this runs on every call: keep it cheap)."""
    array = getattr(leaf, "_array", leaf)  # a Tensor's ndarray
    if isinstance(array, np.ndarray):
        mask = getattr(leaf, "_keras_mask", None)
        if mask is not None:
            return ("tensor", array.shape, array.dtype, "masked")
        return ("tensor", array.shape, array.dtype)
    if isinstance(leaf, Variable):
        return ("variable", id(leaf), leaf.path)
    if isinstance(leaf, _SCALARS + (np.generic,)):
        return ("static", type(leaf).__name__, leaf)
    return ("object", type(leaf).__name__, id(leaf))


class Signature:
    def __init__(self, structure, specs, statics, context):
        self.structure = structure  # tree.structure_signature of the dynamic arguments
        self.specs = specs          # per leaf: see leaf_spec
        self.statics = statics      # ((name, value), ...)
        self.context = context      # (("floatx", "float32"),)
        self.key = (structure, specs, tuple((n, _typed(v)) for n, v in statics), context)

    @property
    def paths(self):
        """Per leaf: "args[0]", "kwargs['x']", ... (for explanations only)."""
        return [leaf_path(p) for p in _leaf_paths(self.structure, ())]

    def __eq__(self, other):
        return isinstance(other, Signature) and self.key == other.key

    def __hash__(self):
        return hash(self.key)


def _typed(value):
    """A static value with its type, through tuples: 1, 1.0 and True are equal (and hash
    alike) in Python, but trace differently (an int, a float or a bool)."""
    if type(value) is tuple:
        return (tuple, tuple(_typed(v) for v in value))
    return (type(value), value)


def _leaf_paths(sig, prefix):
    if sig == "*":
        return [prefix]
    kind, items = sig
    if kind == "dict":
        return [p for k, sub in items for p in _leaf_paths(sub, prefix + (k,))]
    return [p for i, sub in enumerate(items) for p in _leaf_paths(sub, prefix + (i,))]


class StaticSplit:
    """One call's arguments: the dynamic ones, and the static ones by name and by place."""

    def __init__(self, names, args, kwargs, static_argnames, static_argnums):
        """`names`: the function's positional parameter names (see positional_names)."""
        self.args, self.kwargs = [], {}
        self.positional = {}   # position -> static value
        self.keywords = {}     # name -> static value passed by keyword
        self.by_name = {}      # every static value, by parameter name (for the key)
        for i, a in enumerate(args):
            name = names[i] if i < len(names) else None
            if i in static_argnums or (name is not None and name in static_argnames):
                self.positional[i] = a
                self.by_name[name or f"args[{i}]"] = a
            else:
                self.args.append(a)
        for k, v in kwargs.items():
            if k in static_argnames:
                self.keywords[k] = self.by_name[k] = v
            else:
                self.kwargs[k] = v
        for k, v in self.by_name.items():
            try:
                hash(v)
            except TypeError:
                raise StaticArgumentError(
                    f"static argument {k!r} must be hashable (it is part of the cache key), "
                    f"received a {type(v).__name__}; pass it as a tuple, or make it a "
                    "regular argument") from None

    def rebuild(self, dyn_args, dyn_kwargs):
        """Full (args, kwargs) with the static values put back in place."""
        args, it = [], iter(dyn_args)
        for i in range(len(dyn_args) + len(self.positional)):
            args.append(self.positional[i] if i in self.positional else next(it))
        return args, {**dyn_kwargs, **self.keywords}


def positional_names(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def signature_of(dyn_args, dyn_kwargs, static):
    """(Signature, flat list of the dynamic leaves) of one call."""
    structure = {"args": list(dyn_args), "kwargs": dict(dyn_kwargs)}
    flat = tree.flatten(structure)
    specs = tuple(leaf_spec(leaf) for leaf in flat)
    statics = tuple(sorted(static.items(), key=lambda kv: kv[0])) if static else ()
    context = (("floatx", config.floatx()),)
    signature = Signature(tree.structure_signature(structure), specs, statics, context)
    return signature, with_masks(flat)


def identity_keyed(flat, specs, statics):
    """The argument objects a signature knows by id() alone: "object" leaves, and static
    values hashed by identity. A cache entry must not outlive them: once one is freed, a new
    object can take its address and would match the entry's key."""
    objects = [leaf for leaf, spec in zip(flat, specs) if spec[0] == "object"]
    objects += [v for _, v in statics if type(v).__hash__ is object.__hash__]
    return objects


def describe_spec(spec):
    """Human text for a leaf spec: `f32[32,10]`, `static 3`, `variable 'dense/kernel'`."""
    kind = spec[0]
    if kind == "tensor":
        return str(TensorType(spec[1], spec[2].name)) + (" with a mask" if spec[3:] else "")
    if kind == "variable":
        return f"variable '{spec[2]}'"
    if kind == "static":
        return f"static {spec[2]!r}"
    return f"a {spec[1]} object (id {spec[2]:#x})"
