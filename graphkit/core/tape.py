"""`gk.GradientTape` and `gk.value_and_grad`.

The tape records every differentiable `bind` whose inputs depend on a watched value, for
any kind of value that records gradients (eager Tensors, and IR Tracers inside a trace), and
replays the primitives' gradient rules backwards (core/autodiff.py).

The tape names the values it has seen by keys of its own, and holds them only weakly: a
record keeps, as values, just what its gradient rule reads (`Primitive.grad_uses`), so an
eager step's large temporaries are freed as soon as the forward pass is done with them (and
their memory reused), instead of living until the step ends.

A value's key lives on the value itself (`_tape_key`: the tape's token and the key), read
with an attribute load on every recorded op. The token is a weak reference to the tape, so
values never keep a tape alive, and a mark left by a dead tape may be taken over. A value
marked by another live tape (nested tapes, a persistent tape kept for later) is keyed in the
tape's `_watched` dict instead, by `id()` with a weak reference that tells a live value from
a new one that took a dead value's id.
"""
import functools
import weakref

from graphkit import tree
from graphkit.core import backward_plan
from graphkit.core.autodiff import backward_keyed, shape_only
from graphkit.core.tensor import Tensor
from graphkit.ops.primitive import ACTIVE_TAPES


_weakref = weakref.ref


def _token_for(tape):
    """A new token of `tape`: a weak reference of its own (one with a callback is never
    shared), which says whether the tape is still alive."""
    return _weakref(tape, _no_op)


def _no_op(_):
    pass


def _ref(value):
    """A weak reference to `value`, or a strong one for values that cannot have weak ones."""
    try:
        return _weakref(value)
    except TypeError:
        return lambda: value


# Eager values smaller than this are kept even when the rule reads only their shape: a small
# array costs nothing to keep, and a stand-in costs a Python object per operand per op.
STAND_IN_MIN_BYTES = 1 << 16


def _saved(prim, inputs, outputs):
    """The inputs and outputs as the gradient rule will get them: the values it reads, and
    `ShapeOnly` stand-ins for the large eager arrays it does not."""
    plan = _PLANS.get(prim)
    if plan is None:
        plan = _plan(prim)
    unused, keep_out = plan
    if unused is None:
        return inputs, outputs
    saved_in = inputs
    n = len(inputs)
    for i in unused:  # ascending
        if i >= n:
            break
        x = inputs[i]  # _large, inlined: this runs per op
        a = x._array if type(x) is Tensor else getattr(x, "_array", None)
        if a is not None and a.nbytes >= STAND_IN_MIN_BYTES:
            if saved_in is inputs:
                saved_in = list(inputs)
            saved_in[i] = shape_only(inputs[i])
    if saved_in is not inputs:
        saved_in = tuple(saved_in)
    if keep_out:
        return saved_in, outputs
    if prim.n_outputs > 1:
        return saved_in, tuple([shape_only(o) if _large(o) else o for o in outputs])
    a = outputs._array if type(outputs) is Tensor else getattr(outputs, "_array", None)
    if a is not None and a.nbytes >= STAND_IN_MIN_BYTES:
        return saved_in, shape_only(outputs)
    return saved_in, outputs


_PLANS = {}  # Primitive -> (positions of the inputs its rule does not read, reads "out")


def _plan(prim):
    uses = prim.grad_uses
    if uses is None:
        plan = (None, True)
    else:
        # Primitives do not state their arity: positions up to the fourth (or the last one
        # named) are considered; any later operand of a variadic op is kept, which is safe.
        arity = max([i for i in uses if isinstance(i, int)] + [3]) + 1
        plan = (tuple(i for i in range(arity) if i not in uses), "out" in uses)
    _PLANS[prim] = plan
    return plan


def _large(value):
    a = getattr(value, "_array", None)  # eager Tensors only: a trace's values cost nothing
    return a is not None and a.nbytes >= STAND_IN_MIN_BYTES


class GradientTape:
    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        # (prim, saved inputs, saved outputs, attrs, input keys, output key(s)); an input
        # key is None when the input does not depend on a source.
        self._records = []
        # Marks the values this tape keys (their `_tape_key`); `reset` takes a new one.
        self._token = _token_for(self)
        # id(value) -> (weak reference, key), for the values that depend on a source and
        # that another tape marked first (see the module doc)
        self._watched = {}
        self._held = []           # the watched sources, kept alive by the tape
        self._next_key = 0
        self._watched_vars = {}   # id(variable) -> variable, watched explicitly
        self._var_reads = {}      # id(variable) -> [(value, key) read while recording]
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
                if self._key_of(v) is None:
                    self._held.append(v)
                    self._new_key(v)
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
        self._token = _token_for(self)  # the values marked so far are no longer watched
        self._watched.clear()
        self._held.clear()
        self._var_reads.clear()

    def _key_of(self, value):
        """The key of a watched value, or None."""
        mark = value._tape_key if type(value) is Tensor else getattr(value, "_tape_key", None)
        if mark is not None and mark[0] is self._token:
            return mark[1]
        if not self._watched:
            return None
        entry = self._watched.get(id(value))
        return entry[1] if entry is not None and entry[0]() is value else None

    def _new_key(self, value):
        key = self._next_key
        self._next_key = key + 1
        self._mark(value, key)
        return key

    def _mark(self, value, key):
        try:
            mark = value._tape_key
            if mark is None or mark[0]() is None:  # unmarked, or marked by a dead tape
                value._tape_key = (self._token, key)
                return
        except AttributeError:  # a value kind without the slot
            pass
        self._watched[id(value)] = (_ref(value), key)

    # -- called by Variable.value and bind ---------------------------------------------------
    def _on_variable_read(self, variable, value):
        if not self._recording:
            return
        if id(variable) in self._watched_vars or (
                self.watch_accessed_variables and variable.trainable):
            self._watched_vars.setdefault(id(variable), variable)
            reads = self._var_reads.setdefault(id(variable), [])
            if not any(r is value for r, _ in reads):  # one read value counts once
                key = self._key_of(value)
                reads.append((value, self._new_key(value) if key is None else key))

    def _record(self, prim, inputs, outputs, attrs):
        # Runs for every op while the tape records: the inputs' keys are read from their
        # marks (and the `_watched` dict only when it holds anything).
        if not self._recording:
            return
        token = self._token
        if len(inputs) == 2 and not self._watched:  # most ops: the loop below, unrolled
            a, b = inputs
            mark = a._tape_key
            ka = mark[1] if mark is not None and mark[0] is token else None
            mark = b._tape_key
            kb = mark[1] if mark is not None and mark[0] is token else None
            if ka is None and kb is None:
                return
            keys = (ka, kb)
        else:
            keys = tuple([self._key_of(x) for x in inputs])
            if keys.count(None) == len(keys):
                return
        if prim.n_outputs > 1:
            out_keys = tuple(self._new_key(o) for o in outputs)
        else:  # _new_key, inlined
            out_keys = self._next_key
            self._next_key = out_keys + 1
            if outputs._tape_key is None:
                outputs._tape_key = (token, out_keys)
            else:
                self._mark(outputs, out_keys)
        saved_in, saved_out = _saved(prim, inputs, outputs)
        self._records.append((prim, saved_in, saved_out, attrs, keys, out_keys))

    # -- the gradient -----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
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
            targets = [t.value if isinstance(t, Variable) else t for t in tree.flatten(target)]
            flat_sources = tree.flatten(sources)
            source_keys = [[k for _, k in self._var_reads.get(id(s), [])]
                           if isinstance(s, Variable) else [self._key_of(s)]
                           for s in flat_sources]
            walk = functools.partial(self._walk, targets, output_gradients, flat_sources,
                                     source_keys, unconnected_gradients)
            if output_gradients is None and not self.persistent:
                grads = self._planned(walk, targets, flat_sources, source_keys,
                                      unconnected_gradients)
            else:
                grads = walk()
        finally:
            self._recording = was_recording
        if not self.persistent:
            self._records = []
        return tree.pack_sequence_as(sources, grads)


    def _walk(self, targets, output_gradients, flat_sources, source_keys, unconnected):
        """The gradients of `targets` with respect to `flat_sources`, by the backward walk."""
        from graphkit import ops
        from graphkit.core.variable import Variable
        seeds = tree.flatten(output_gradients) if output_gradients is not None else None
        cotangents = {}
        for i, t in enumerate(targets):
            key = self._key_of(t)
            if key is None:  # the target does not depend on a source
                continue
            ct = ops.ones_like(t) if seeds is None else ops.convert_to_tensor(
                seeds[i], dtype=t.dtype)
            prev = cotangents.get(key)
            cotangents[key] = ct if prev is None else ops.add(prev, ct)
        # the cotangents read below; the walk may drop the others
        keep = {k for keys in source_keys for k in keys if k is not None}
        # A non-persistent tape lets each record go once it has been processed: the
        # forward values only its rule read are freed during the walk.
        backward_keyed(self._records, cotangents, keep=keep, consume=not self.persistent)
        grads = []
        for s, keys in zip(flat_sources, source_keys):
            parts = [cotangents[k] for k in keys if k is not None and k in cotangents]
            g = functools.reduce(ops.add, parts) if parts else None
            if g is None and unconnected == "zero":
                g = ops.zeros_like(s.value if isinstance(s, Variable) else s)
            grads.append(g)
        return grads

    def _planned(self, walk, targets, flat_sources, source_keys, unconnected):
        """`walk()`'s gradients, through the backward plan of this forward structure when
        one is known and trusted (core/backward_plan.py): made on the first walk of a
        structure, checked bit for bit against the second, replayed from the third on."""
        from graphkit.core.tensor import Tensor
        from graphkit.core.variable import Variable
        records = self._records
        source_values = [v for s, keys in zip(flat_sources, source_keys)
                         for v in ([r for r, _ in self._var_reads.get(id(s), [])]
                                   if isinstance(s, Variable) else [s])]
        if any(t is not self for t in ACTIVE_TAPES) or \
                any(type(v) is not Tensor for v in source_values):
            return walk()
        sig = backward_plan.signature(
            records, tuple(self._key_of(t) for t in targets),
            tuple(tuple(keys) for keys in source_keys), source_values, unconnected)
        if sig is None:
            return walk()
        plan = backward_plan.find(sig)
        if plan is None:
            if not backward_plan.RECORDING.acquire(blocking=False):
                return walk()
            try:
                with backward_plan.Recorder(records) as recorder:
                    grads = walk()
            finally:
                backward_plan.RECORDING.release()
            backward_plan.remember(recorder.plan(sig, grads))
            return grads
        if plan.trusted:
            arrays = plan.input_arrays(records)
            records.clear()  # the forward values go as soon as the plan is done with them
            return plan.run(arrays)
        if plan.trusted is None:
            arrays = plan.input_arrays(records)
            grads = walk()
            plan.trusted = backward_plan.same_gradients(plan.run(arrays), grads)
            return grads
        return walk()  # a plan that did not give the walk's bits: this structure walks


def value_and_grad(fn, argnums=0, has_aux=False):
    """`fn(*args) -> value` becomes `f(*args) -> (value, grads)`, as in JAX.

    Gradients are taken with respect to the positional arguments named by `argnums` (an int,
    or a tuple for a tuple of gradients); each may be a nested structure of tensors.
    """
    from graphkit import ops
    from graphkit.core.tensor import Tensor
    from graphkit.core.variable import Variable  # here, not per value: once per step

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        args = list(args)
        for i in nums:
            if i >= len(args):
                raise ValueError(f"value_and_grad: argnums={argnums} but only {len(args)} "
                                 "positional arguments were given")
            args[i] = _sources(args[i])
        with GradientTape(watch_accessed_variables=False) as tape:
            for i in nums:
                tape.watch(args[i])
            out = fn(*args, **kwargs)
        if has_aux and not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(
                f"value_and_grad(has_aux=True): `{getattr(fn, '__name__', fn)}` must return a "
                f"pair (value, aux), received {type(out).__name__}"
                + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
        value, aux = (out if has_aux else (out, None))
        grads = tape.gradient(value, [args[i] for i in nums], unconnected_gradients="zero")
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    def _as_source(x):
        if isinstance(x, Variable) or hasattr(type(x), "_bind_priority"):
            return x
        return ops.convert_to_tensor(x)

    def _sources(structure):
        # A flat list or tuple of Tensors (a training step's weights) needs no conversion:
        # a copy of it is what the tree walk would give, at a tenth of the walk's cost.
        kind = type(structure)
        if (kind is list or kind is tuple) and all(type(x) is Tensor for x in structure):
            return list(structure) if kind is list else structure
        return tree.map_structure(_as_source, structure)

    return wrapped

