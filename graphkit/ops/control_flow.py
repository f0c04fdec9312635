"""Keras's control-flow ops: cond, switch, while_loop, fori_loop, scan, map,
associative_scan and vectorized_map.

graphkit's IR has no control-flow nodes, so each op is Python control flow over ordinary
ops, and works on every kind of value:
- Eagerly (and with a predicate, index or bound known now: Python, NumPy, eager Tensors)
  the op decides in Python and runs only what is taken.
- Traced (gk.jit, compiled train steps), loops with a static trip count are unrolled (one
  copy of the body per iteration), and a traced predicate or index computes *every* branch
  and selects the result with `where`. The branches must then agree in structure, shapes and
  dtypes. A while_loop with a traced condition has no static trip count: it is unrolled
  `maximum_iterations` times with masked steps, or rejected without that bound.
Gradients need nothing of their own: the tape and the IR autodiff see ordinary ops (`where`
sends no cotangent to the branch that was not selected).
"""
import numpy as np

from graphkit import tree
from graphkit.ops.convert import convert_to_tensor
from graphkit.ops.elementwise import cast, clip, equal, logical_and, where
from graphkit.ops.layout import concatenate, getitem, reshape, stack


# -- static or traced ---------------------------------------------------------------------

def _known_value(x):
    """`x` as a NumPy value when its data is known now, else None (a traced or symbolic
    value). Variables are read first: inside a trace their value is traced."""
    from graphkit.core.variable import Variable
    if isinstance(x, Variable):
        x = x.value
    if getattr(type(x), "_bind_priority", 0) > 0:  # KerasTensor (1) or Tracer (2)
        return None
    return np.asarray(x)


def _is_symbolic(x):
    from graphkit.core.keras_tensor import KerasTensor
    return isinstance(x, KerasTensor)


def _static_int(x, op, name):
    """A loop bound as a Python int; traced bounds cannot give an unrolled loop."""
    known = _known_value(x)
    if known is None:
        raise _tracer_error(
            f"{op}: `{name}` is a traced or symbolic value, so the number of iterations is "
            "unknown while tracing, and graphkit (whose IR has no loop nodes) cannot unroll "
            f"the loop. Pass `{name}` as a Python int (or a static argument of gk.jit).")
    if known.size != 1 or not np.issubdtype(known.dtype, np.integer):
        raise TypeError(f"{op}: `{name}` must be an integer scalar, received {known!r}")
    return int(known.reshape(()))


def _tracer_error(message):
    # A TracerError: what gk.jit raises for data-dependent Python control flow, and what
    # compile(jit_compile="auto") answers by running the step eagerly.
    from graphkit.ir.tracer import TracerError
    return TracerError(message)


def _scalar_predicate(pred, op, name):
    if any(d != 1 for d in pred.shape):  # an unknown (None) dimension is not known to be 1
        raise ValueError(f"{op}: `{name}` must be a scalar, received shape {tuple(pred.shape)}")
    return pred if tuple(pred.shape) == () else reshape(pred, ())


# -- selecting between computed branches ---------------------------------------------------

def _as_leaves(out):
    """The structure and tensor leaves of a branch's output (None stays None)."""
    leaves = [None if v is None else convert_to_tensor(v) for v in tree.flatten(out)]
    return tree.structure_signature(out), leaves


def _describe(out):
    return tree.map_structure(
        lambda v: None if v is None else f"{convert_to_tensor(v).dtype}"
        f"{list(convert_to_tensor(v).shape)}", out)


def _check_same(op, names, outs, why):
    """Raise unless every output has the first one's structure, shapes and dtypes."""
    sig0, leaves0 = _as_leaves(outs[0])
    for name, out in zip(names[1:], outs[1:]):
        sig, leaves = _as_leaves(out)
        same = sig == sig0 and all(
            (a is None) == (b is None) and (a is None or (
                tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype))
            for a, b in zip(leaves0, leaves))
        if not same:
            raise ValueError(
                f"{op}: {names[0]} and {name} must return the same structure, shapes and "
                f"dtypes ({why}); {names[0]} returned {_describe(outs[0])}, {name} returned "
                f"{_describe(out)}")


def _select(conds, outs, default):
    """`outs[k]` where `conds[k]` holds (the first that does), else `default`, per leaf."""
    flat_default = tree.flatten(default)
    flat_outs = [tree.flatten(o) for o in outs]
    merged = []
    for j, leaf in enumerate(flat_default):
        if leaf is None:
            merged.append(None)
            continue
        value = convert_to_tensor(leaf)
        for c, flat in reversed(list(zip(conds, flat_outs))):
            value = where(c, flat[j], value)
        merged.append(value)
    return tree.pack_sequence_as(default, merged)


_BOTH = "a traced predicate computes both branches and selects the result with where"


def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()`.

    A predicate known now runs one branch. A traced or symbolic predicate runs *both*
    branches and selects with `where`: they must return the same structure, shapes and
    dtypes, and the untaken one must be safe to compute (its gradient is masked out).
    """
    known = _known_value(pred)
    if known is not None:
        if known.size != 1:
            raise ValueError(f"cond: `pred` must be a scalar, received shape {known.shape}")
        return true_fn() if bool(known.reshape(())) else false_fn()
    pred = _scalar_predicate(cast(pred, "bool"), "cond", "pred")
    outs = [true_fn(), false_fn()]
    _check_same("cond", ["true_fn", "false_fn"], outs, _BOTH)
    return _select([pred], outs[:1], outs[1])


def switch(index, branches, *operands):
    """`branches[index](*operands)`, `index` clamped to the valid range (as in Keras).

    A traced or symbolic index runs every branch and selects with `where` (same structure,
    shapes and dtypes required)."""
    branches = list(branches)
    if not branches:
        raise ValueError("switch: `branches` must hold at least one callable")
    last = len(branches) - 1
    known = _known_value(index)
    if known is not None:
        if known.size != 1:
            raise ValueError(f"switch: `index` must be a scalar, received shape {known.shape}")
        return branches[int(np.clip(int(known.reshape(())), 0, last))](*operands)
    index = _scalar_predicate(clip(cast(index, "int32"), 0, last), "switch", "index")
    outs = [b(*operands) for b in branches]
    _check_same("switch", [f"branches[{i}]" for i in range(len(outs))], outs,
                "a traced index computes every branch and selects the result with where")
    return _select([equal(index, i) for i in range(last)], outs[:-1], outs[-1])


# -- loops -----------------------------------------------------------------------------------

def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`, at most
    `maximum_iterations` times. A tuple or list of loop_vars gives a tuple.

    Traced: a condition known now while tracing (from Python values) unrolls the loop. A
    traced condition has no static trip count; with `maximum_iterations` the loop is
    unrolled that many times and each step is masked with `where` once the condition has
    failed (the body still computes on every step); without it, a TracerError.
    """
    is_tuple = isinstance(loop_vars, (tuple, list))
    state = tuple(loop_vars) if is_tuple else (loop_vars,)
    limit = None if maximum_iterations is None else _static_int(
        maximum_iterations, "while_loop", "maximum_iterations")
    step = 0
    while limit is None or step < limit:
        going = cond(*state)
        known = _known_value(going)
        if known is None:
            state = _traced_while(cond, body, state, going, is_tuple,
                                  None if limit is None else limit - step)
            break
        if not bool(known.reshape(())):
            break
        state = _body_step(body, state, is_tuple)
        step += 1
    return state if is_tuple else state[0]


def _body_step(body, state, is_tuple):
    out = body(*state)
    return tuple(out) if is_tuple else (out,)


def _traced_while(cond, body, state, going, is_tuple, remaining):
    if _is_symbolic(going):
        # A functional graph only needs the result's spec: that of the body's output (the
        # node runs the real loop on real values).
        return _body_step(body, state, is_tuple)
    if remaining is None:
        raise _tracer_error(
            "while_loop: the loop condition is a traced value (inside gk.jit or a compiled "
            "train step), so the number of iterations is unknown while tracing, and graphkit "
            "(whose IR has no loop nodes) cannot unroll the loop. Use fori_loop with Python-"
            "int bounds, or pass maximum_iterations=N to unroll N masked steps.")
    active = _scalar_predicate(cast(going, "bool"), "while_loop", "cond(*loop_vars)")
    for i in range(remaining):
        if i:
            going = cast(cond(*state), "bool")
            active = logical_and(active, _scalar_predicate(going, "while_loop",
                                                           "cond(*loop_vars)"))
        new = _body_step(body, state, is_tuple)
        _check_same("while_loop", ["loop_vars", "body"], [state, new],
                    "a traced condition selects between them with where on every step")
        state = _select([active], [new], state)
    return state


def fori_loop(lower, upper, body_fun, init_val):
    """`val = body_fun(i, val)` for i in range(lower, upper), `i` a Python int.

    The bounds must be known while tracing (Python ints, NumPy or eager values): the loop
    is unrolled, one copy of the body per iteration."""
    val = init_val
    for i in range(_static_int(lower, "fori_loop", "lower"),
                   _static_int(upper, "fori_loop", "upper")):
        val = body_fun(i, val)
    return val


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`carry, y = f(carry, x)` over the leading axis of `xs` (or `length` times with
    x=None); returns the last carry and the ys stacked (None if f's y is None).

    The length must be static: traced, the loop is unrolled. `unroll` is accepted for
    Keras compatibility (everything is unrolled)."""
    if not callable(f):
        raise TypeError(f"scan: `f` must be a callable, received {f!r}")
    if xs is None and length is None:
        raise ValueError("scan: pass `xs` to scan over, or `length`")
    flat_xs = [convert_to_tensor(x) for x in tree.flatten(xs)] if xs is not None else []
    n = _scan_length(flat_xs, length)
    carry = tree.map_structure(lambda v: None if v is None else convert_to_tensor(v), init)
    order = range(n - 1, -1, -1) if reverse else range(n)
    ys = []
    for i in order:
        x = tree.pack_sequence_as(xs, [getitem(v, i) for v in flat_xs]) if flat_xs else None
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, _stack_outputs(ys, f, carry, flat_xs, xs)


def _scan_length(flat_xs, length):
    n = None if length is None else _static_int(length, "scan", "length")
    for x in flat_xs:
        if x.ndim == 0:
            raise ValueError("scan: every leaf of `xs` needs a leading axis to scan over")
        lead = x.shape[0]
        if lead is None:
            raise ValueError("scan: the leading dimension of `xs` is unknown (None); graphkit "
                             "unrolls the loop and needs it static")
        if n is not None and lead != n:
            raise ValueError(f"scan: `xs` leaves must all have leading dimension {n}, "
                             f"one has shape {tuple(x.shape)}")
        n = lead
    return n


def _stack_outputs(ys, f, carry, flat_xs, xs):
    """Each leaf of the ys stacked on a new leading axis."""
    if not ys:  # zero iterations: the ys' spec comes from one call on zeros
        from graphkit.ops.creation import zeros
        x = tree.pack_sequence_as(xs, [zeros(v.shape[1:], v.dtype) for v in flat_xs]) \
            if flat_xs else None
        y = f(carry, x)[1]
        return tree.map_structure(
            lambda v: None if v is None else zeros((0,) + tuple(convert_to_tensor(v).shape),
                                                   convert_to_tensor(v).dtype), y)
    if tree.flatten(ys[0]) == [None]:
        return None
    return tree.map_structure(lambda *leaves: stack([convert_to_tensor(v) for v in leaves]),
                              *ys)


def map(f, xs):
    """`f` applied to each slice of `xs` along its leading axis, results stacked (unrolled
    when traced; the leading dimension must be static)."""
    return scan(lambda carry, x: (carry, f(x)), (), xs)[1]


def vectorized_map(function, elements):
    """`function` over the leading axis of `elements` (a tensor or a structure of them),
    results stacked. graphkit runs one call per element (unrolled when traced), not a
    vectorized transform: the results are those of Keras's."""
    return map(function, elements)


def associative_scan(f, elems, reverse=False, axis=0):
    """The inclusive scan of `elems` with the associative `f` along `axis`: result[i] =
    f(result[i-1], elems[i]). `f` receives slices that keep the axis (length 1), as JAX's
    does. Computed sequentially (n - 1 calls), unrolled when traced."""
    flat = [convert_to_tensor(e) for e in tree.flatten(elems)]
    if not flat:
        raise ValueError("associative_scan: `elems` holds no tensors")
    axis = axis + flat[0].ndim if axis < 0 else axis
    n = flat[0].shape[axis]
    if n is None or any(e.shape[axis] != n for e in flat):
        raise ValueError("associative_scan: every leaf of `elems` needs the same static "
                         f"length along axis {axis}; shapes {[tuple(e.shape) for e in flat]}")
    order = list(range(n - 1, -1, -1)) if reverse else list(range(n))
    acc, results = None, []
    for i in order:
        item = [_axis_item(e, i, axis) for e in flat]
        acc = item if acc is None else tree.flatten(f(tree.pack_sequence_as(elems, acc),
                                                      tree.pack_sequence_as(elems, item)))
        results.append(acc)
    if reverse:
        results.reverse()
    return tree.pack_sequence_as(elems, [concatenate([r[j] for r in results], axis=axis)
                                         for j in range(len(flat))])


def _axis_item(x, i, axis):
    """x[..., i:i+1, ...] along `axis`."""
    return getitem(x, (slice(None),) * axis + (slice(i, i + 1),))
