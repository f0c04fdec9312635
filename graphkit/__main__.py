"""The `graphkit` command line.

    python -m graphkit ir model.keras [--stage traced|optimized|kernels|llvm]
                                      [--batch-size N] [--dot out.dot] [--passes fold,cse,...]
                                      [--import MODULE ...]

`ir` loads a saved model, traces its forward pass (inference mode) on zero inputs shaped
like `model.inputs` with the batch dimension set to `--batch-size`, runs the pass pipeline
(`--passes`, a comma-separated list, default the full pipeline) and prints the IR at the
chosen stage. `--dot` also writes that stage's graph as Graphviz DOT. `--import` imports
the user's modules (from the current folder or sys.path) first, so that the custom objects
they register can be loaded: graphkit never imports a module because a file names it.
"""
import argparse
import sys

STAGES = ("traced", "optimized", "kernels", "llvm")
# Short pass names accepted by --passes, as in `--passes fold,cse`.
PASS_ALIASES = {"fold": "constant_fold", "canon": "canonicalize", "fuse": "fusion",
                "memory": "memory_plan"}


class CommandError(Exception):
    """A user error: printed as one line, exit status 1."""


def build_parser():
    parser = argparse.ArgumentParser(prog="graphkit", description="graphkit tools")
    commands = parser.add_subparsers(dest="command", required=True)
    ir = commands.add_parser("ir", help="print the IR of a saved model's forward pass")
    ir.add_argument("model", help="a .keras file written by model.save")
    ir.add_argument("--stage", choices=STAGES, default="optimized",
                    help="which IR to print (default: optimized)")
    ir.add_argument("--batch-size", type=int, default=1,
                    help="the batch dimension of every input (default: 1)")
    ir.add_argument("--dot", metavar="OUT.dot", help="also write the graph as Graphviz DOT")
    ir.add_argument("--passes", help="comma-separated passes to run (default: all); "
                                     "aliases: " + ", ".join(f"{k}={v}" for k, v in
                                                             PASS_ALIASES.items()))
    ir.add_argument("--import", dest="imports", action="append", default=[],
                    metavar="MODULE", help="import MODULE first, for the custom objects it "
                                           "registers (repeatable)")
    return parser


def main(argv=None):
    """Entry point of `python -m graphkit` and of the `graphkit` script; returns the exit
    status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "ir":
            return _ir_command(args)
    except CommandError as e:
        print(f"graphkit {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 2


def _ir_command(args):
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be at least 1, received {args.batch_size}")
    _import_modules(args.imports)
    model = _load(args.model)
    lowered = _lower_forward(model, args.batch_size, _pipeline(args.passes))
    try:
        text = lowered.as_text(args.stage)
    except ValueError as e:  # e.g. "kernels" from a pipeline without fusion
        raise CommandError(str(e)) from None
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.dot:
        _write_dot(lowered, args.stage, args.dot)
    return 0


def _import_modules(names):
    import importlib
    import os
    if names and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # `python -m` puts the current folder first, a script not
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise CommandError(f"--import {name}: {e}") from None


def _load(path):
    import os

    from graphkit.saving import SavedFileError, UnknownObjectError, load_model
    if not os.path.exists(path):
        raise CommandError(f"cannot load '{path}': no such file (the current folder is "
                           f"'{os.getcwd()}')")
    try:
        return load_model(path, compile=False)
    except (OSError, ValueError, SavedFileError, UnknownObjectError) as e:
        raise CommandError(str(e)) from None


def _pipeline(passes):
    from graphkit.ir.passes.manager import DEFAULT_PIPELINE, parse_pipeline
    if passes is None:
        return DEFAULT_PIPELINE
    names = [PASS_ALIASES.get(p.strip(), p.strip()) for p in passes.split(",") if p.strip()]
    try:
        return ",".join(parse_pipeline(names))
    except ValueError as e:
        raise CommandError(f"--passes: {e}") from None


def _input_arrays(model, batch_size):
    """Zeros shaped like each model input, the batch (first) dimension set to batch_size."""
    import numpy as np
    try:
        inputs = model.inputs
    except (AttributeError, ValueError) as e:
        raise CommandError(f"the model '{model.name}' has no known inputs ({e}); save a "
                           "model built with gk.Input or called on data") from None
    arrays = []
    for i, spec in enumerate(inputs):
        shape = list(spec.shape)
        if shape and shape[0] is None:
            shape[0] = batch_size
        if any(d is None for d in shape):
            raise CommandError(f"input {i} ('{spec.name}') of model '{model.name}' has "
                               f"shape {tuple(spec.shape)}: only the batch dimension may be "
                               "unknown")
        arrays.append(np.zeros(shape, dtype=spec.dtype))
    return arrays


def _lower_forward(model, batch_size, pipeline):
    from graphkit.compiler.jit import JitFunction
    arrays = _input_arrays(model, batch_size)

    structure = getattr(model, "_inputs_struct", None)  # a Functional model's: dict, list...

    def forward(*xs):
        if structure is not None:
            from graphkit import tree
            return model(tree.pack_sequence_as(structure, list(xs)), training=False)
        return model(xs[0] if len(xs) == 1 else list(xs), training=False)

    forward.__name__ = model.name
    return JitFunction(forward, pipeline=pipeline).lower(*arrays)


def _write_dot(lowered, stage, path):
    from graphkit.ir.dot import graph_to_dot
    from graphkit.ir.parser import parse
    if stage in ("traced", "optimized"):
        graph = parse(lowered.as_text(stage))
    else:  # "kernels" and "llvm": the fused graph the backend compiles
        graph = lowered.graph
    try:
        with open(path, "w") as f:
            f.write(graph_to_dot(graph))
    except OSError as e:
        raise CommandError(f"--dot: cannot write '{path}': {e}") from None
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
