"""Backward plans: an eager backward pass replayed as the NumPy calls it made last time.

An eager training step runs the same forward ops on the same shapes step after step, and
its tape's backward walk then makes the same kernel calls each time: the gradient rules
decide what to bind from shapes, dtypes and attributes only (they are written with `gk.ops`
so that they also run on IR Tracers, which have no values). Deciding costs Python, several
times what the small kernels of a small model cost: the walk's bookkeeping, the rules, and
each op's dispatch.

So the first time a tape meets a forward pass of some structure (its `signature`), the walk
runs as usual and every kernel call it makes is recorded into a `BackwardPlan`: which
primitive with which attributes, on which arrays (one the tape saved from the forward pass,
the result of an earlier call, or a constant a rule made). The second time, the walk runs
again and the plan is replayed beside it: the plan is trusted only if every gradient comes
out bit for bit the same. From then on the plan runs instead of the walk: the same
primitives' kernels on the same arrays, in the same order, so the same bits, without the
rules' Python.

The signature holds everything the rules' decisions depend on: each record's primitive,
attributes and tape keys (the wiring of the forward pass), the shapes and dtypes of the
values from outside it (the data, the constants, and the sources), the targets and sources,
and the config. Plans are only made where a replay is sure to be faithful: eager values,
built-in primitives, no numerics checking, no other tape recording the backward pass.
"""
import threading

import numpy as np

from graphkit import config
from graphkit.core.autodiff import ShapeOnly
from graphkit.core.tensor import Tensor, _new_tensor


# The plans met lately, most recent first; a training loop needs one per step kind.
_PLANS = []
_MAX_PLANS = 16

# Held while a walk is recorded: recording swaps `Tensor._bind` for the whole process, so
# one walk at a time is recorded (a walk in another thread meanwhile just walks).
RECORDING = threading.Lock()


class BackwardPlan:
    """The kernel calls of one backward pass, over numbered slots of arrays.

    `inputs`: (record index, position, slot) for the forward values the calls read; the
    position is an input's index, -1 for a single output, or -2 - j for output j.
    `template`: the slots' starting contents: the rules' constants (and what the calls on
    constants alone gave, computed once), None elsewhere.
    `steps`: (kernel, argument slots, their count, attrs, output slot(s), slots freed after
    it), the kernel being the primitive's `eager`.
    `outputs`: one slot (or None) per gradient.
    """

    __slots__ = ("signature", "inputs", "template", "steps", "outputs", "trusted")

    def __init__(self, signature, inputs, template, steps, outputs):
        self.signature = signature
        self.inputs, self.template = inputs, template
        self.steps, self.outputs = steps, outputs
        self.trusted = None  # None until checked against a walk, then True or False

    def input_arrays(self, records):
        """The forward arrays the plan reads, taken from the tape's records."""
        return [(records[r][1][where] if where >= 0 else records[r][2] if where == -1
                 else records[r][2][-2 - where])._array for r, where, _ in self.inputs]

    def run(self, arrays):
        """The gradients (Tensors or None) from the forward arrays `input_arrays` gave."""
        slots = list(self.template)
        for (_, _, slot), array in zip(self.inputs, arrays):
            slots[slot] = array
        del arrays[:]  # the slots hold them now, and drop each after its last use
        asarray, ndarray = np.asarray, np.ndarray
        for kernel, args, n, attrs, out, frees in self.steps:
            if n == 2:  # no `**` without attributes (see Tensor._bind)
                result = kernel(slots[args[0]], slots[args[1]], **attrs) if attrs else \
                    kernel(slots[args[0]], slots[args[1]])
            elif n == 1:
                result = kernel(slots[args[0]], **attrs)
            else:
                result = kernel(*[slots[i] for i in args], **attrs)
            if type(out) is int:
                slots[out] = result if type(result) is ndarray else asarray(result)
            else:
                for slot, o in zip(out, result):
                    slots[slot] = o if type(o) is ndarray else asarray(o)
            for slot in frees:
                slots[slot] = None
        return [None if slot is None else _new_tensor(slots[slot]) for slot in self.outputs]


def _builtin(prim):
    """Built-in primitives' rules decide from shapes, dtypes and attributes alone."""
    plannable = getattr(prim.grad, "__module__", "").startswith("graphkit.ops")
    if plannable:
        _PLANNABLE.add(prim)
    return plannable


_PLANNABLE = set()  # the primitives `_builtin` found plannable (a set test per record)


def signature(records, targets, sources, source_values, unconnected):
    """What the walk's kernel calls depend on (see the module doc), as a list to compare
    with `==`; None when the walk cannot be planned (a primitive from outside graphkit, or
    numerics checking on). The shapes of the values computed inside the forward pass follow
    from the outside ones, the primitives and their attributes."""
    if config._state["check_numerics"]:
        return None
    sig = []
    append, plannable = sig.append, _PLANNABLE
    for prim, saved_in, _, attrs, in_keys, out_keys in records:
        if prim not in plannable and not _builtin(prim):
            return None
        if None in in_keys:
            outside = tuple([(x._array.shape, x._array.dtype) if type(x) is Tensor
                             else (x[0], x[1]) if type(x) is ShapeOnly else (x.shape, x.dtype)
                             for x, k in zip(saved_in, in_keys) if k is None])
            append((prim, attrs, in_keys, out_keys, outside))
        else:
            append((prim, attrs, in_keys, out_keys))
    sig.append((targets, sources, unconnected, config._state["floatx"],
                tuple([(v._array.shape, v._array.dtype) for v in source_values])))
    return sig


def find(sig):
    """The plan made for `sig`, or None."""
    for plan in _PLANS:
        try:
            if len(plan.signature) == len(sig) and plan.signature == sig:
                return plan
        except (TypeError, ValueError):  # an attribute that does not compare (an array)
            continue
    return None


def remember(plan):
    _PLANS.insert(0, plan)
    del _PLANS[_MAX_PLANS:]


def same_gradients(got, want):
    """Whether two lists of gradients are equal bit for bit (NaNs in the same places)."""
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g is None or w is None:
            if g is not w:
                return False
            continue
        a, b = g._array, w._array
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if not np.array_equal(np.ascontiguousarray(a).view(np.uint8),
                              np.ascontiguousarray(b).view(np.uint8)):
            return False
    return True


class Recorder:
    """Records the kernel calls of one backward walk into a plan.

    While active, `Tensor._bind` (every eager kernel call) also reports here; calls from
    other threads are not the walk's and are left out.
    """

    def __init__(self, records):
        self._slot_of = {}   # id(Tensor) -> slot
        self._held = []      # every Tensor seen, so that no id is reused meanwhile
        self._inputs = []    # (record index, position, slot)
        self._template = []  # per slot: a constant's array, or None
        self._steps = []     # (prim, argument slots, attrs, output slot(s))
        for r, (prim, saved_in, saved_out, *_) in enumerate(records):
            for p, x in enumerate(saved_in):
                self._register_input(x, r, p)
            outs = saved_out if prim.n_outputs > 1 else (saved_out,)
            for j, o in enumerate(outs):
                self._register_input(o, r, -1 if prim.n_outputs == 1 else -2 - j)

    def _new_slot(self, value, constant=None):
        slot = len(self._template)
        self._template.append(constant)
        self._slot_of[id(value)] = slot
        self._held.append(value)
        return slot

    def _register_input(self, value, r, where):
        if type(value) is Tensor and id(value) not in self._slot_of:
            self._inputs.append((r, where, self._new_slot(value)))

    def __enter__(self):
        original = Tensor.__dict__["_bind"].__func__
        thread = threading.get_ident()
        recorder = self

        def recording_bind(cls, prim, args, attrs):
            outs = original(cls, prim, args, attrs)
            if threading.get_ident() == thread:
                recorder._record(prim, args, attrs, outs)
            return outs
        self._original = Tensor.__dict__["_bind"]
        Tensor._bind = classmethod(recording_bind)
        return self

    def __exit__(self, *exc):
        Tensor._bind = self._original

    def _record(self, prim, args, attrs, outs):
        slots = []
        for a in args:
            slot = self._slot_of.get(id(a))
            if slot is None:  # not from the forward pass nor from the walk: a constant
                slot = self._new_slot(a, a._array)
            slots.append(slot)
        if prim.n_outputs > 1:
            out = tuple(self._new_slot(o) for o in outs)
        else:
            out = self._new_slot(outs)
        self._steps.append((prim, tuple(slots), attrs, out))

    def plan(self, sig, gradients):
        """The plan of the recorded walk, whose results were `gradients`. When one of them
        came from outside the recorded calls, an untrusted plan: the structure walks."""
        outputs = []
        for g in gradients:
            if g is None:
                outputs.append(None)
                continue
            slot = self._slot_of.get(id(g))
            if slot is None:
                plan = BackwardPlan(sig, (), (), (), ())
                plan.trusted = False
                return plan
            outputs.append(slot)
        kept = set(outputs)
        steps = self._fold_constants(kept)
        return BackwardPlan(sig, tuple(self._inputs), tuple(self._template),
                            _with_frees(steps, kept), tuple(outputs))

    def _fold_constants(self, kept):
        """The steps left once those whose arguments are all constants (the seed's ones and
        what is made of them: the mean's 1/n broadcast, say) have run here, once: their
        results join the template's constants. The same kernels on the same arrays, so the
        same bits. A gradient is never folded: each step returns arrays of its own."""
        template = self._template
        steps = []
        for prim, args, attrs, out in self._steps:
            outs = (out,) if type(out) is int else out
            if all(template[a] is not None for a in args) and not kept.intersection(outs):
                result = prim.eager(*[template[a] for a in args], **attrs)
                results = (result,) if type(out) is int else result
                for slot, value in zip(outs, results):
                    template[slot] = np.asarray(value)
            else:
                steps.append((prim.eager, args, attrs, out))
        return steps


def _with_frees(steps, kept):
    """The steps, each with the slots whose last reader it is (the gradients kept)."""
    last_use = {}
    for i, (_, args, _, _) in enumerate(steps):
        for slot in args:
            last_use[slot] = i
    frees = [[] for _ in steps]
    for slot, i in last_use.items():
        if slot not in kept:
            frees[i].append(slot)
    for i, (_, _, _, out) in enumerate(steps):  # results nothing reads
        for slot in ((out,) if type(out) is int else out):
            if slot not in last_use and slot not in kept:
                frees[i].append(slot)
    return tuple((kernel, args, len(args), attrs, out, tuple(f))
                 for (kernel, args, attrs, out), f in zip(steps, frees))
