"""The pass manager: runs a named pipeline of passes, measuring and optionally dumping each.

    result = run_pipeline(graph, "canonicalize,simplify,constant_fold,cse,dce,fusion")
    result.graph, result.passes  # [{"name", "ops_before", "ops_after", "seconds"}, ...]
    result.stage("dce")          # the IR text right after that pass

With `verify=True` (tests, debug) the verifier runs on the input and after every pass, and
a failure names the pass. With a dump directory (GRAPHKIT_DUMP_IR by default), every stage
is written as `NN_<pass>.gkir`, in order, with an `index.txt` of op counts and times.
"""
import importlib
import os
import time

from graphkit import config
from graphkit.ir.passes import pipeline_cache
from graphkit.ir.verifier import VerificationError, verify

PASSES = ("canonicalize", "simplify", "constant_fold", "cse", "dce", "fusion", "memory_plan")
DEFAULT_PIPELINE = ",".join(PASSES)
# The stages before fusion: what `Lowered.as_text("optimized")` shows.
OPTIMIZE_PIPELINE = "canonicalize,simplify,constant_fold,cse,dce"


class PassError(RuntimeError):
    pass


def get_pass(name):
    """The `run(graph) -> graph` function of a pass, by name."""
    if name not in PASSES:
        from graphkit.errors import unknown_identifier
        raise unknown_identifier("pass", name, PASSES)
    return importlib.import_module(f"graphkit.ir.passes.{name}").run


def parse_pipeline(spec):
    names = [p.strip() for p in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    for n in names:  # unknown names fail before anything runs (nothing imported yet)
        if n not in PASSES:
            from graphkit.errors import unknown_identifier
            raise unknown_identifier("pass", n, PASSES)
    return names


class PipelineResult:
    def __init__(self, graph, passes, stages, dump_path):
        self.graph = graph
        self.passes = passes        # [{"name", "ops_before", "ops_after", "seconds"}]
        self.stages = stages        # [(name, text)], starting with ("input", text)
        self.dump_path = dump_path  # the folder written, or None
        self.cached = False         # True: read from the pipeline cache, no pass ran

    @property
    def final_text(self):
        """`str(self.graph)` (the last stage's text), or None when no text was kept."""
        return self.stages[-1][1] if self.stages else None

    def stage(self, name):
        for n, text in reversed(self.stages):
            if n == name:
                return text
        raise KeyError(f"no stage {name!r}; stages: {[n for n, _ in self.stages]}")


def run_pipeline(graph, pipeline=DEFAULT_PIPELINE, verify_each=False, dump_dir=None,
                 keep_text=True, input_stage="input", cache=True, input_text=None):
    """Run the passes named in `pipeline` (a comma-separated string or a list) on `graph`.

    The graph is edited in place (passes may also return a new graph; use `.graph`).
    `dump_dir=None` uses GRAPHKIT_DUMP_IR when set; `False` disables dumping.
    `cache`: look the result up in (and add it to) the on-disk pipeline cache
    (pipeline_cache.py); a hit loads the stored final graph instead of running the passes
    (`result.cached`). Dumping, `keep_text=False` and pipelines with a pass after
    memory_plan never use it. With `verify_each`, a hit on an entry stored by a verified run
    is not verified again: its input text is the one that run verified, and the result is
    parsed from the text of the graph it verified after every pass.
    `input_text`: `str(graph)`, when the caller has printed it already (printed once).
    """
    names = parse_pipeline(pipeline)
    if dump_dir is None:
        dump_dir = config.dump_ir_dir()
    dumping = bool(dump_dir)
    keep_text = keep_text or dumping
    stages = [(input_stage, input_text if input_text is not None else str(graph))] \
        if keep_text else []
    key = None
    if cache and keep_text and not dumping and _cacheable(names):
        key = pipeline_cache.pipeline_key(stages[0][1], names, graph.annotations)
        hit = pipeline_cache.load(key)
        if hit is not None and len(hit["passes"]) == len(names):
            return _from_cache(graph, names, stages, hit, verify_each)
    if verify_each:
        _verify(graph, f"the {input_stage} graph")
    records = []
    for name in names:
        before = graph.op_count()
        start = time.perf_counter()
        graph = get_pass(name)(graph)
        seconds = time.perf_counter() - start
        text = str(graph) if keep_text else None
        # A pass that left the text as it was (nothing to do, or an annotation only, as
        # memory_plan) left the graph the verifier passed: not verified again (~1.3 ms
        # per verification of a W3 train step, on the compile's critical path).
        if verify_each and (text is None or text != stages[-1][1]):
            _verify(graph, f"pass '{name}'")
        records.append({"name": name, "ops_before": before, "ops_after": graph.op_count(),
                        "seconds": seconds})
        if keep_text:
            stages.append((name, text))
    if key is not None:
        plan = graph.annotations.get("memory_plan") if names and names[-1] == "memory_plan" \
            else None
        pipeline_cache.store(key, stages[1:], records,
                             plan.to_json() if plan is not None else None, verify_each,
                             graph if names else None)
    path = dump(dump_dir, graph, stages, records) if dumping else None
    return PipelineResult(graph, records, stages, path)


def _cacheable(names):
    """memory_plan is the one pass whose result (an annotation) the text does not carry; it
    is re-run on a cache hit, which is only right when nothing runs after it."""
    return "memory_plan" not in names[:-1]


def _from_cache(graph, names, stages, hit, verify_each):
    """The result of a cache hit: the final graph (unpickled, or its text parsed),
    annotations carried over."""
    if verify_each and not hit["verified"]:
        _verify(graph, f"the {stages[0][0]} graph")
    final = graph
    if names:
        # the pickled graph when stored (~4x faster to load than parsing its text)
        final = pipeline_cache.graph_of(hit)
        if final is None:
            from graphkit.ir.parser import parse
            final = parse(hit["stages"][-1][1])
    final.annotations = dict(graph.annotations)
    if names and names[-1] == "memory_plan":
        final = _cached_plan(final, hit.get("memory_plan"))
    if verify_each and not hit["verified"]:
        _verify(final, "the cached result of the pipeline")
    result = PipelineResult(final, hit["passes"], stages + hit["stages"], None)
    result.cached = True
    return result


def _cached_plan(graph, stored):
    """Attach the stored memory plan when it names exactly the graph's values; else plan
    again (an entry written before plans were stored, or one that does not match)."""
    from graphkit.ir.passes.memory_plan import MemoryPlan
    if stored is not None:
        try:
            plan = MemoryPlan.from_json(stored)
        except (KeyError, TypeError, ValueError, AttributeError):
            plan = None
        names = {v.name for node in graph.nodes for v in node.outputs}
        names.update(p.name for p in graph.params)
        if plan is not None and set(plan.assignment) <= names and set(plan.views) <= names:
            graph.annotations["memory_plan"] = plan
            return graph
    return get_pass("memory_plan")(graph)


def _verify(graph, what):
    try:
        verify(graph)
    except VerificationError as e:
        raise PassError(f"{what} left an invalid graph: {e}") from e


def dump(dump_dir, graph, stages, records):
    """Write each stage to `<dump_dir>/<graph name>.<n>/NN_<stage>.gkir` plus `index.txt`.

    `stages[0]` is the input; `stages[i]` is the text after pass `records[i - 1]`.
    """
    os.makedirs(dump_dir, exist_ok=True)
    n = 0
    while True:
        folder = os.path.join(dump_dir, f"{graph.name}.{n}")
        try:
            os.makedirs(folder)
            break
        except FileExistsError:
            n += 1
    lines = [f"{'stage':<16} {'file':<28} {'ops_before':>10} {'ops_after':>10} {'seconds':>10}"]
    for i, (stage, text) in enumerate(stages):
        fname = f"{i:02d}_{stage}.gkir"
        with open(os.path.join(folder, fname), "w") as f:
            f.write(text)
        if i == 0:
            lines.append(f"{stage:<16} {fname:<28} {graph_ops(text):>10}")
        else:
            r = records[i - 1]
            lines.append(f"{stage:<16} {fname:<28} {r['ops_before']:>10} {r['ops_after']:>10} "
                         f"{r['seconds']:>10.6f}")
    plan = graph.annotations.get("memory_plan")
    if plan is not None:
        lines.append(f"memory plan: {plan.report()}")
    with open(os.path.join(folder, "index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return folder


def graph_ops(text):
    """Op count of a stage's text (lines that define values, kernel lines excluded)."""
    return sum(1 for line in text.splitlines()
               if line.lstrip().startswith("%") and " = kernel " not in line)
