"""`gk.ir`: the typed graph IR that layer code is traced into, and what works on it.

    graph = gk.ir.trace(fn, *args)         # Graph: params, nodes in SSA/topological order
    text = str(graph); gk.ir.parse(text)   # exact inverses
    gk.ir.verify(graph); gk.ir.interpret(graph, *arrays)
    gk.ir.grad_graph(graph)                # reverse-mode autodiff as a graph transform
    gk.ir.run_pipeline(graph, "canonicalize,simplify,constant_fold,cse,dce,fusion")
"""
import importlib

_WHERE = {"grad_graph": "autodiff", "replay": "autodiff", "Graph": "graph", "Node": "graph",
          "Value": "graph", "interpret": "interpreter", "KernelInfo": "kernel",
          "ParseError": "parser", "parse": "parser", "DEFAULT_PIPELINE": "passes",
          "run_pipeline": "passes", "print_graph": "printer", "Trace": "tracer",
          "Tracer": "tracer", "TracerError": "tracer", "trace": "tracer",
          "trace_function": "tracer", "TensorType": "types", "VerificationError": "verifier",
          "verify": "verifier"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"graphkit.ir.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'graphkit.ir' has no attribute {name!r}")


__all__ = sorted(_WHERE)
