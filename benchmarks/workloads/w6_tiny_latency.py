"""W6 tiny_latency: Dense(64, relu) -> Dense(64, relu) -> Dense(1) on x (1, 32), per call.

This measures per-call overhead: the arithmetic is about 10 kFLOP.
"""
from benchmarks.workloads import dense_stack
from benchmarks.workloads.base import Workload, dense_params, f64, memoized_reference, rng

BATCH, SIZES = 1, (32, 64, 64, 1)


def make_data():
    gen = rng(6)
    return {"params": dense_params(gen, SIZES),
            "x": gen.standard_normal((BATCH, SIZES[0])).astype("float32")}


def _reference(data):
    return dense_stack.numpy_forward(f64(data["params"]), f64([data["x"]])[0])


WORKLOAD = Workload(
    id="W6", name="tiny_latency", what="Dense(64,relu)-Dense(64,relu)-Dense(1), x(1,32), per call",
    make_data=make_data, reference=memoized_reference(_reference),
    peers=dense_stack.inference_peers("params", "x", softmax=False, batch=BATCH),
    tolerance=1e-5,
    nominal_floor_s=1e-6, floor_note="one native call, ~1 us (BENCHMARKS, nominal)",
)
