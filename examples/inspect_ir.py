"""Read the IR of the W7 block, stage by stage, and see where the time goes.

    python examples/inspect_ir.py                 # all stages, a small batch
    python examples/inspect_ir.py --stage kernels --batch 512

The block is the benchmark's W7: `x + Dense(768)(gelu_tanh(Dense(3072)(layer_norm(x))))`.
Reading guide:
- "traced": what the layer code did, one SSA line per op, with the layer path after `#`.
- "optimized": after canonicalization, simplification, folding, CSE and DCE.
- "kernels": after fusion; each `kernel` line lists its member ops indented below it. Expect
  the layer norm as reductions with fused prologue/epilogue, and each Dense matmul with its
  bias (and gelu, and the residual add) as the matmul's epilogue.
- "llvm": the LLVM IR of the whole graph's single entry function and its kernels.
`stats()` then gives per-pass op counts and times, and per-kernel FLOPs and bytes: the
kernels with the most FLOPs are where a step spends its time.
"""
import argparse
import time

import numpy as np

import graphkit as gk
from graphkit import layers, ops


def build_block(width=768, hidden=3072):
    x = gk.Input(shape=(width,), name="x")
    h = layers.LayerNormalization(epsilon=1e-5)(x)
    h = layers.Dense(hidden)(h)
    h = layers.Activation(lambda t: ops.gelu(t, approximate=True), name="gelu_tanh")(h)
    h = layers.Dense(width)(h)
    return gk.Model(x, layers.Add()([x, h]), name="mlp_block")


def print_stats(stats):
    print("pass            ops before -> after   ms")
    for p in stats["passes"]:
        print(f"{p['name']:<15} {p['ops_before']:>10} -> {p['ops_after']:<6} "
              f"{p['seconds'] * 1e3:6.2f}")
    print(f"\n{stats['kernels']} kernels, {stats['flops'] / 1e9:.3f} GFLOP, "
          f"{stats['bytes'] / 1e6:.2f} MB moved")
    for k in sorted(stats["per_kernel"], key=lambda k: -k["flops"]):
        print(f"  {k['name']:<4} {k['flops'] / 1e6:10.2f} MFLOP {k['bytes'] / 1e6:8.2f} MB  "
              f"{' '.join(k['ops'])}")
    memory = stats.get("memory")
    if memory:
        print(f"arena {memory['arena_bytes'] / 1e6:.2f} MB for "
              f"{memory['intermediate_bytes'] / 1e6:.2f} MB of intermediates")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("traced", "optimized", "kernels", "llvm", "all"),
                        default="all")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)

    gk.utils.set_random_seed(0)
    model = build_block()
    forward = gk.jit(lambda x: model(x))
    x = np.random.default_rng(0).normal(size=(args.batch, 768)).astype("float32")

    lowered = forward.lower(x)
    stages = ("traced", "optimized", "kernels") if args.stage == "all" else (args.stage,)
    for stage in stages:
        print(f"==== {stage} ====")
        print(lowered.as_text(stage))
    print_stats(lowered.stats())

    start = time.perf_counter()
    y = forward(x)  # the first call compiles (or loads the disk cache)
    print(f"\nfirst call (compile + run): {time.perf_counter() - start:.2f} s")
    error = float(np.max(np.abs(np.asarray(y) - np.asarray(model(x)))))
    print(f"max |compiled - eager| = {error:.2e}")
    return lowered.stats(), error


if __name__ == "__main__":
    main()
