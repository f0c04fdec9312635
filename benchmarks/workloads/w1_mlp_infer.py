"""W1 mlp_infer: Dense(512, relu) -> Dense(512, relu) -> Dense(10) -> softmax on x (256, 784)."""
from benchmarks.workloads import dense_stack
from benchmarks.workloads.base import Workload, dense_params, f64, memoized_reference, rng

BATCH, SIZES = 256, (784, 512, 512, 10)


def make_data():
    gen = rng(1)
    return {"params": dense_params(gen, SIZES),
            "x": gen.uniform(0.0, 1.0, (BATCH, SIZES[0])).astype("float32")}


def _reference(data):
    return dense_stack.numpy_forward(f64(data["params"]), f64([data["x"]])[0], softmax=True)


WORKLOAD = Workload(
    id="W1", name="mlp_infer",
    what="Dense(512,relu)-Dense(512,relu)-Dense(10)-softmax, x(256,784)",
    make_data=make_data, reference=memoized_reference(_reference),
    peers=dense_stack.inference_peers("params", "x", softmax=True, batch=BATCH),
    tolerance=1e-5,
    flops=2 * BATCH * sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:])),
)
