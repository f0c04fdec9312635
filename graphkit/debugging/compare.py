"""`gk.debugging.compare`: run a computation eagerly and compiled, and report how far apart
the results are.

    report = gk.debugging.compare(model, x)             # one row per output
    print(report)                                      # a table
    report.max_abs_error, report.max_rel_error, report.max_ulp
    report.assert_close(rtol=1e-5, atol=1e-6)           # AssertionError with the table
    report = gk.debugging.compare(fn, x, per_op=True)   # one row per IR value
    report.first_divergence                            # the first op beyond tolerance
    report.backend_stats                               # the executable's stats(), e.g.
                                                       # which kernels ran interpreted

Outputs mode: the reference is `fn` run eagerly (gk.jit disabled inside it too); the
candidate is the same call through `gk.jit`'s full pipeline and backend. Variables the
function assigns are snapshotted first, restored before the compiled run (so updates are
not applied twice), and left at the eager results: after `compare`, state is as if `fn` ran
once eagerly. The variables' updates are compared too (`report.state_rows`).

Per-op mode: the function is traced once; the reference is the interpreter (the ops'
NumPy kernels, which are the eager kernels) on the unoptimized graph, and the candidate is
a probe copy of the graph whose every value is an output, run through the pass pipeline
and the backend. Every intermediate value is then materialized, so the rows line up with
the traced ops one to one (fusion still runs, but cannot hide a value). Rows follow the
traced order, so the first row beyond tolerance is the op where the results part ways;
the later ones usually inherit its error. No variable is touched in this mode.
"""
import numpy as np

from graphkit import config, tree
from graphkit.debugging.diff import ArrayDiff, default_tolerance

_HEADERS = ("#", "value", "op", "layer", "type", "max abs", "max rel", "max ulp", "status")


class Row:
    """One compared value: an output, an updated variable, or (per-op) one IR value."""

    def __init__(self, name, diff, op="", layer="", type_text=None):
        self.name = name
        self.op = op          # the IR op (per-op rows)
        self.layer = layer    # the layer path the op ran under
        self.diff = diff
        self.type = type_text or _type_text(diff.reference)

    max_abs_error = property(lambda self: self.diff.max_abs)
    max_rel_error = property(lambda self: self.diff.max_rel)
    max_ulp = property(lambda self: self.diff.max_ulp)
    reference = property(lambda self: self.diff.reference)
    compiled = property(lambda self: self.diff.actual)

    def tolerance(self, rtol=None, atol=None):
        d_rtol, d_atol = default_tolerance(self.diff.dtype)
        return (d_rtol if rtol is None else rtol), (d_atol if atol is None else atol)

    def is_close(self, rtol=None, atol=None):
        return self.diff.is_close(*self.tolerance(rtol, atol))

    def where(self):
        """`op 'exp' at 'model/dense_1' (%7)` or the output's name."""
        if not self.op:
            return self.name
        return f"op '{self.op}' at '{self.layer or '<top level>'}' ({self.name})"

    def __repr__(self):
        return f"<Row {self.where()}: max abs {self.max_abs_error:.3g}>"


class CompareReport:
    def __init__(self, title, rows, state_rows=(), per_op=False, rtol=None, atol=None,
                 backend_stats=None):
        self.title = title
        # What the compiled side ran on (the backend's `stats()`, e.g. the LLVM backend's
        # "interpreted_kernels"): a comparison against a fallback proves less.
        self.backend_stats = dict(backend_stats or {})
        self.rows = list(rows)
        self.state_rows = list(state_rows)
        self.per_op = per_op
        self.rtol, self.atol = rtol, atol   # None: each row's dtype default

    def _all(self):
        return self.rows + self.state_rows

    @property
    def max_abs_error(self):
        return max((r.max_abs_error for r in self._all()), default=0.0)

    @property
    def max_rel_error(self):
        return max((r.max_rel_error for r in self._all()), default=0.0)

    @property
    def max_ulp(self):
        return max((r.max_ulp for r in self._all()), default=0)

    def divergences(self, rtol=None, atol=None):
        rtol = self.rtol if rtol is None else rtol
        atol = self.atol if atol is None else atol
        return [r for r in self._all() if not r.is_close(rtol, atol)]

    @property
    def first_divergence(self):
        """The first row (in traced order, per op) beyond tolerance, or None."""
        bad = self.divergences()
        return bad[0] if bad else None

    def assert_close(self, rtol=None, atol=None):
        """Raise AssertionError (with the table) unless every row is within
        |compiled - eager| <= atol + rtol * |eager|; None means the dtype's default."""
        bad = self.divergences(rtol, atol)
        if bad:
            what = "; ".join(r.where() for r in bad[:3]) + (" ..." if len(bad) > 3 else "")
            raise AssertionError(
                f"{self.title}: {len(bad)} of {len(self._all())} values differ beyond "
                f"rtol={_tol(rtol)}, atol={_tol(atol)}; first: {bad[0].where()}; "
                f"all: {what}\n{self.table(rtol, atol)}")

    def table(self, rtol=None, atol=None):
        rtol = self.rtol if rtol is None else rtol
        atol = self.atol if atol is None else atol
        lines = [[str(i), r.name, r.op, r.layer, r.type, _num(r.max_abs_error),
                  _num(r.max_rel_error), _num(r.max_ulp),
                  "ok" if r.is_close(rtol, atol) else (r.diff.mismatch or "DIVERGES")]
                 for i, r in enumerate(self._all())]
        cols = [i for i in range(len(_HEADERS))
                if not (_HEADERS[i] in ("op", "layer") and not any(ln[i] for ln in lines))]
        widths = {i: max([len(_HEADERS[i])] + [len(ln[i]) for ln in lines]) for i in cols}
        fmt = lambda cells: "  ".join(cells[i].ljust(widths[i]) for i in cols).rstrip()
        out = [fmt(_HEADERS), fmt(["-" * widths[i] if i in widths else "" for i in
                                   range(len(_HEADERS))])]
        return "\n".join(out + [fmt(ln) for ln in lines])

    def __str__(self):
        head = (f"{self.title}: max abs {_num(self.max_abs_error)}, max rel "
                f"{_num(self.max_rel_error)}, max ulp {_num(self.max_ulp)}")
        first = self.first_divergence
        if first is not None:
            head += f"\nfirst divergence: {first.where()}"
        return head + "\n" + self.table()

    def __repr__(self):
        return (f"<CompareReport {len(self.rows)} rows, max abs {self.max_abs_error:.3g}, "
                f"max ulp {self.max_ulp}>")


def compare(fn_or_model, *args, per_op=False, backend=None, rtol=None, atol=None,
            **kwargs):
    """Run `fn_or_model(*args, **kwargs)` eagerly and compiled and report the differences.

    `per_op=True` compares every IR value instead of the outputs. `backend` picks the
    compiled backend (default: gk.jit's). `rtol`/`atol` set the tolerance that the table's
    status column and `first_divergence` use (default: per dtype, see diff.py).
    """
    if not callable(fn_or_model):
        raise TypeError(f"gk.debugging.compare: expected a function, layer or model, "
                        f"received {type(fn_or_model).__name__}")
    name = _name_of(fn_or_model)
    if per_op:
        rows, stats = _per_op_rows(fn_or_model, args, kwargs, name, backend)
        title = f"compare {name} per op (interpreter on the traced graph vs compiled)"
        return CompareReport(title, rows, per_op=True, rtol=rtol, atol=atol,
                             backend_stats=stats)
    rows, state_rows, stats = _output_rows(fn_or_model, args, kwargs, backend)
    return CompareReport(f"compare {name} (eager vs compiled)", rows, state_rows,
                         rtol=rtol, atol=atol, backend_stats=stats)


# -- outputs mode -----------------------------------------------------------------------------
def _output_rows(fn, args, kwargs, backend):
    from graphkit.compiler.jit import JitFunction
    lowered = JitFunction(fn, backend=backend).lower(*args, **kwargs)  # may build layers
    written = lowered.info.var_writes
    before = _snapshot(written)
    try:
        eager_out = _run_eagerly(fn, args, kwargs)
        eager_state = _snapshot(written)
        _restore(before)
        compiled = lowered.compile()
        compiled_out = compiled(*args, **kwargs)
        compiled_state = _snapshot(written)
    except BaseException:
        _restore(before)
        raise
    _restore(eager_state)  # as if fn had run once, eagerly
    rows = _rows_for_outputs(eager_out, compiled_out)
    state_rows = [Row(f"var:{v.path}", ArrayDiff(eager_state[i][1], compiled_state[i][1]))
                  for i, v in enumerate(written)]
    return rows, state_rows, _backend_stats(compiled.executable)


def _backend_stats(executable):
    stats = getattr(executable, "stats", None)
    return stats() if callable(stats) else {"backend": executable.backend}


def _run_eagerly(fn, args, kwargs):
    """`fn` with gk.jit off, so jitted functions it calls run eagerly too."""
    previous = config.jit_enabled()
    config.set_jit_enabled(False)
    try:
        return fn(*args, **kwargs)
    finally:
        config.set_jit_enabled(previous)


def _snapshot(variables):
    # A Variable's value is an immutable Tensor that assigns replace: keeping it is a copy.
    return [(v, v._value) for v in variables]


def _restore(snapshot):
    for var, value in snapshot:
        var._replace_value(value)


def _rows_for_outputs(eager_out, compiled_out):
    eager = tree.flatten_with_path(eager_out)
    compiled = tree.flatten_with_path(compiled_out)
    if [p for p, _ in eager] != [p for p, _ in compiled]:
        raise AssertionError(
            f"gk.debugging.compare: the eager and compiled outputs have different structures: "
            f"{[_path_text(p) for p, _ in eager]} vs {[_path_text(p) for p, _ in compiled]}")
    rows = []
    for (path, e), (_, c) in zip(eager, compiled):
        if _is_array(e) or _is_array(c):
            rows.append(Row(_path_text(path), ArrayDiff(_numpy(e), _numpy(c))))
    return rows


def _is_array(x):
    return hasattr(x, "_array") or hasattr(x, "_value") or isinstance(x, (np.ndarray,
                                                                         np.generic))


def _numpy(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _path_text(path):
    return "out" + "".join(f"[{k!r}]" for k in path)


# -- per-op mode ------------------------------------------------------------------------------
def _per_op_rows(fn, args, kwargs, name, backend):
    from graphkit.compiler.executable import compile_graph
    from graphkit.compiler.jit import DEFAULT_PIPELINE
    from graphkit.ir.graph import CONSTANT, layer_path
    from graphkit.ir.passes.manager import run_pipeline
    from graphkit.ir.tracer import trace_function

    graph, info = trace_function(fn, args, kwargs, name=name)
    inputs = _graph_inputs(args, kwargs, info)
    probed = [(n, o) for n in graph.nodes if n.op != CONSTANT for o in n.outputs]
    probe = graph.clone()
    by_name = {o.name: o for n in probe.nodes for o in n.outputs}
    probe.set_outputs([by_name[o.name] for _, o in probed])
    env = _all_values(graph, inputs)
    optimized = run_pipeline(probe, DEFAULT_PIPELINE, dump_dir=False, keep_text=False).graph
    executable = compile_graph(optimized, backend)
    compiled = executable.run(inputs)
    rows = []
    for (node, out), got in zip(probed, compiled):
        label = f"%{out.name}" + (f"#{out.index}" if len(node.outputs) > 1 else "")
        rows.append(Row(label, ArrayDiff(env[out.name], got), op=node.op,
                        layer=layer_path(node.scope, node.op), type_text=str(out.type)))
    return rows, _backend_stats(executable)


def _graph_inputs(args, kwargs, info):
    """The arrays for the traced graph's params: argument leaves, then variable values."""
    from graphkit.ir.tracer import with_masks
    flat = with_masks([leaf for _, leaf in tree.flatten_with_path({"args": list(args),
                                                                   "kwargs": dict(kwargs)})])
    inputs = [np.asarray(_numpy(flat[i]), order="C") for i in info.arg_leaves]
    return inputs + [np.asarray(v._value.numpy(), order="C") for v in info.var_reads]


def _all_values(graph, inputs):
    """Every value of the unoptimized graph, by name, from the interpreter."""
    from graphkit.ir.interpreter import eval_node
    env = {p.name: np.asarray(x) for p, x in zip(graph.params, inputs)}
    for node in graph.nodes:
        outs = eval_node(node, [env[v.name] for v in node.operands])
        for o, a in zip(node.outputs, outs):
            env[o.name] = a
    return env


# -- helpers ----------------------------------------------------------------------------------
def _name_of(fn):
    name = getattr(fn, "name", None)
    if not isinstance(name, str):
        name = getattr(fn, "__name__", None) or type(fn).__name__
    return name


def _type_text(array):
    from graphkit.ir.types import SHORT_DTYPE
    short = SHORT_DTYPE.get(array.dtype.name, array.dtype.name)
    return f"{short}[{','.join(str(d) for d in array.shape)}]"


def _num(x):
    if isinstance(x, int):
        return str(x)
    return "inf" if x == float("inf") else f"{x:.3g}"


def _tol(x):
    return "dtype default" if x is None else f"{x:g}"
