"""What a workload is, and the data helpers every workload shares."""
import dataclasses
from typing import Any, Callable, Optional

import numpy as np

SEED = 20240601

GRAPHKIT_PEERS = ("graphkit eager", "graphkit compiled")


@dataclasses.dataclass
class Workload:
    """One row group of the benchmark.

    peers maps a peer's display name to `build(data) -> harness.Runner`.
    tolerance is the largest max-abs-error against the float64 reference that still counts as
    a right answer (float32 rounding of this workload, with a margin).
    flops / bytes give the physical floor; nominal_floor_s is a floor stated directly.
    """
    id: str
    name: str
    what: str
    make_data: Callable[[], dict]
    reference: Callable[[dict], Any]
    peers: dict
    tolerance: float
    check_steps: int = 1
    flops: Optional[int] = None
    bytes: Optional[int] = None
    nominal_floor_s: Optional[float] = None
    floor_note: str = ""

    def floor(self, limits):
        """(seconds, how) on this machine, from its measured FMA peak or bandwidth; or None."""
        if self.flops and limits.get("fma_peak_gflops"):
            peak = limits["fma_peak_gflops"]
            return self.flops / (peak * 1e9), \
                f"{self.flops / 1e6:.0f} MFLOP at {peak:.0f} GFLOP/s (FMA peak){self.floor_note}"
        if self.bytes and limits.get("bandwidth_gbs"):
            bw = limits["bandwidth_gbs"]
            return self.bytes / (bw * 1e9), f"{self.bytes / 1e6:.1f} MB at {bw:.1f} GB/s"
        if self.nominal_floor_s:
            return self.nominal_floor_s, self.floor_note
        return None


def rng(offset=0):
    return np.random.default_rng(SEED + offset)


def glorot_uniform(gen, fan_in, fan_out, shape=None):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return gen.uniform(-limit, limit, shape or (fan_in, fan_out)).astype(np.float32)


def dense_params(gen, sizes):
    """[kernel0, bias0, kernel1, bias1, ...] in Keras layout (kernel is (in, out)).

    Biases are small and non-zero so that a peer that drops a bias shows an error.
    """
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(glorot_uniform(gen, fan_in, fan_out))
        params.append((0.1 * gen.standard_normal(fan_out)).astype(np.float32))
    return params


def f64(arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def memoized_reference(compute):
    """Compute a workload's float64 reference once per data dict."""
    def reference(data):
        if "_reference" not in data:
            data["_reference"] = compute(data)
        return data["_reference"]
    return reference
