"""The stages of a compilation, as in JAX: `Lowered` (traced and optimized IR) and
`Compiled` (an Executable plus the bookkeeping that makes a call behave like eager code).

    lowered = f.lower(x)            # trace + pass pipeline
    lowered.as_text("traced" | "optimized" | "kernels" | "llvm")
    lowered.stats()                 # SPEC's dict: passes, kernels, flops, bytes, per_kernel,
                                    # and "memory": {"arena_bytes", "intermediate_bytes"}
    compiled = lowered.compile()    # an Executable from the backend
    compiled(x)                     # same arguments as f
"""
import numpy as np

from graphkit import tree
from graphkit.compiler.executable import compile_graph
from graphkit.core.tensor import Tensor
from graphkit.ir.cost import graph_cost
from graphkit.ir.graph import KERNEL

STAGES = ("traced", "optimized", "kernels", "llvm")


class Lowered:
    def __init__(self, call, traced_text, pipeline, info, backend=None):
        self._call = call            # the _CallSpec that produced it (statics, signature)
        self._traced_text = traced_text
        self._pipeline = pipeline    # PipelineResult of the pass manager
        self.info = info             # ir.tracer.TraceInfo
        self.backend = backend
        self._compiled = None

    @property
    def graph(self):
        """The final (fused, memory-planned) graph."""
        return self._pipeline.graph

    @property
    def memory_plan(self):
        return self.graph.annotations.get("memory_plan")

    def as_text(self, stage="optimized"):
        if stage == "traced":
            return self._traced_text
        names = [n for n, _ in self._pipeline.stages]
        if stage == "optimized":  # the last stage before fusion
            cut = names.index("fusion") if "fusion" in names else len(names)
            return self._pipeline.stages[cut - 1][1]
        if stage == "kernels":
            if "fusion" not in names:
                raise ValueError(f"as_text('kernels'): the pipeline {names[1:]} has no "
                                 "fusion pass")
            return self._pipeline.stage("fusion")
        if stage == "llvm":
            return self.compile().executable.as_text("llvm")
        from graphkit.errors import unknown_identifier
        raise unknown_identifier("stage", stage, STAGES)

    def stats(self):
        cost = graph_cost(self.graph)
        return {
            "passes": [dict(p) for p in self._pipeline.passes],
            "kernels": sum(1 for n in self.graph.nodes if n.op == KERNEL),
            "flops": cost["flops"],
            "bytes": cost["bytes"],
            "per_kernel": cost["per_kernel"],
            "memory": self._memory_stats(),
        }

    def _memory_stats(self):
        """The arena the memory plan packs intermediates into, against their total size
        (both 0 when the pipeline has no memory_plan pass)."""
        plan = self.memory_plan
        if plan is None:
            return {"arena_bytes": 0, "intermediate_bytes": 0}
        return {"arena_bytes": int(plan.arena_bytes),
                "intermediate_bytes": int(plan.intermediate_bytes)}

    def compile(self):
        if self._compiled is None:
            self._compiled = Compiled(self, compile_graph(self.graph, self.backend))
        return self._compiled

    def __repr__(self):
        return f"<Lowered @{self.graph.name}: {self.stats()['kernels']} kernels>"


class Compiled:
    def __init__(self, lowered, executable):
        self.lowered = lowered
        self.executable = executable

    def as_text(self, stage="llvm"):
        return self.lowered.as_text(stage)

    def __call__(self, *args, **kwargs):
        call = self.lowered._call
        flat, sig = call.flat_dynamic(args, kwargs)
        if sig != call.signature:
            from graphkit.compiler.explain import differences
            raise TypeError(
                f"{call.name}: this Compiled function was lowered for other arguments: "
                + "; ".join(differences(call.signature, sig)))
        return run(self.lowered.info, self.executable, flat)


def run(info, executable, flat_leaves):
    """Feed arguments and variable values to `executable`, write variables back, and pack
    the outputs into the structure the traced function returned."""
    # order="C", not ascontiguousarray: that one turns 0-d arrays into 1-d ones.
    inputs = [np.asarray(flat_leaves[i], order="C") for i in info.arg_leaves]
    inputs += [np.asarray(var._value.numpy(), order="C") for var in info.var_reads]
    outs = executable.run(inputs)
    n_user = len(outs) - len(info.var_writes)
    for var, value in zip(info.var_writes, outs[n_user:]):
        var.assign(Tensor(value))
    leaves = [Tensor(outs[ref]) if kind == "graph" else ref for kind, ref in info.out_leaves]
    return tree.pack_sequence_as(info.out_tree, leaves)
