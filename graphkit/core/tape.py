"""`gk.GradientTape` and `gk.value_and_grad`.

The tape records every differentiable `bind` whose inputs depend on a watched value, for
any kind of value that records gradients (eager Tensors, and IR Tracers inside a trace), and
replays the primitives' gradient rules backwards (core/autodiff.py).
"""
import functools

from graphkit import tree
from graphkit.core.autodiff import backward
from graphkit.ops.primitive import ACTIVE_TAPES


class GradientTape:
    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._records = []
        self._watched = {}        # id(value) -> value, for values that depend on a source
        self._watched_vars = {}   # id(variable) -> variable, watched explicitly
        self._var_reads = {}      # id(variable) -> [values read while recording]
        self._recording = False
        self._used = False

    def __enter__(self):
        self._recording = True
        ACTIVE_TAPES.append(self)
        return self

    def __exit__(self, *exc):
        self._recording = False
        if self in ACTIVE_TAPES:
            ACTIVE_TAPES.remove(self)

    def watch(self, values):
        from graphkit.core.variable import Variable
        for v in tree.flatten(values):
            if isinstance(v, Variable):
                self._watched_vars[id(v)] = v
            elif hasattr(type(v), "_bind_priority"):
                self._watched[id(v)] = v
            else:
                raise TypeError(
                    f"GradientTape.watch: expected Tensors or Variables, received "
                    f"{type(v).__name__} (convert arrays with gk.ops.convert_to_tensor first)")

    def stop_recording(self):
        tape = self

        class _Pause:
            def __enter__(self):
                self.was = tape._recording
                tape._recording = False

            def __exit__(self, *exc):
                tape._recording = self.was
        return _Pause()

    def reset(self):
        self._records.clear()
        self._watched.clear()
        self._var_reads.clear()

    # -- called by Variable.value and bind ---------------------------------------------------
    def _on_variable_read(self, variable, value):
        if not self._recording:
            return
        if id(variable) in self._watched_vars or (
                self.watch_accessed_variables and variable.trainable):
            self._watched_vars.setdefault(id(variable), variable)
            reads = self._var_reads.setdefault(id(variable), [])
            if not any(r is value for r in reads):  # one read value counts once
                reads.append(value)
            self._watched[id(value)] = value

    def _record(self, prim, inputs, outputs, attrs):
        if not self._recording:
            return
        watched = self._watched
        for x in inputs:
            if id(x) in watched:
                break
        else:
            return
        self._records.append((prim, inputs, outputs, attrs))
        for o in (outputs if prim.n_outputs > 1 else (outputs,)):
            watched[id(o)] = o

    # -- the gradient -----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        from graphkit import ops
        from graphkit.core.variable import Variable
        if self._used and not self.persistent:
            raise RuntimeError(
                "GradientTape.gradient can only be called once on a non-persistent tape. "
                "Create the tape with GradientTape(persistent=True) to call it more than once.")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError("GradientTape.gradient: `unconnected_gradients` must be 'none' "
                             f"or 'zero', received {unconnected_gradients!r}")
        self._used = True
        was_recording, self._recording = self._recording, False
        try:
            targets = tree.flatten(target)
            seeds = tree.flatten(output_gradients) if output_gradients is not None else None
            cotangents = {}
            for i, t in enumerate(targets):
                if isinstance(t, Variable):
                    t = t.value
                ct = ops.ones_like(t) if seeds is None else ops.convert_to_tensor(
                    seeds[i], dtype=t.dtype)
                prev = cotangents.get(id(t))
                cotangents[id(t)] = ct if prev is None else ops.add(prev, ct)
            flat_sources = tree.flatten(sources)
            keep = set()  # the cotangents read below; the walk may drop the others
            for s in flat_sources:
                if isinstance(s, Variable):
                    keep.update(id(v) for v in self._var_reads.get(id(s), []))
                else:
                    keep.add(id(s))
            backward(self._records, cotangents, needed=self._watched, keep=keep)
            grads = []
            for s in flat_sources:
                if isinstance(s, Variable):
                    parts = [cotangents[id(v)] for v in self._var_reads.get(id(s), [])
                             if id(v) in cotangents]
                    g = functools.reduce(ops.add, parts) if parts else None
                else:
                    g = cotangents.get(id(s))
                if g is None and unconnected_gradients == "zero":
                    g = ops.zeros_like(s.value if isinstance(s, Variable) else s)
                grads.append(g)
        finally:
            self._recording = was_recording
        if not self.persistent:
            self._records = []
        return tree.pack_sequence_as(sources, grads)


def value_and_grad(fn, argnums=0, has_aux=False):
    """`fn(*args) -> value` becomes `f(*args) -> (value, grads)`, as in JAX.

    Gradients are taken with respect to the positional arguments named by `argnums` (an int,
    or a tuple for a tuple of gradients); each may be a nested structure of tensors.
    """
    from graphkit import ops

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        args = list(args)
        for i in nums:
            if i >= len(args):
                raise ValueError(f"value_and_grad: argnums={argnums} but only {len(args)} "
                                 "positional arguments were given")
            args[i] = tree.map_structure(_as_source, args[i])
        with GradientTape(watch_accessed_variables=False) as tape:
            for i in nums:
                tape.watch(args[i])
            out = fn(*args, **kwargs)
        value, aux = (out if has_aux else (out, None))
        grads = tape.gradient(value, [args[i] for i in nums], unconnected_gradients="zero")
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    def _as_source(x):
        from graphkit.core.variable import Variable
        if isinstance(x, Variable) or hasattr(type(x), "_bind_priority"):
            return x
        return ops.convert_to_tensor(x)

    return wrapped

