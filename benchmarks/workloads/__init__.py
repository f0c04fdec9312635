"""The workloads W1-W7 (timed in the main process) and W8 (separate processes)."""
from benchmarks.workloads import (w1_mlp_infer, w2_ew_chain, w3_mlp_train, w4_vae_train,
                                  w5_cnn_infer, w6_tiny_latency, w7_mlp_block)

TIMED = {module.WORKLOAD.id: module.WORKLOAD for module in (
    w1_mlp_infer, w2_ew_chain, w3_mlp_train, w4_vae_train, w5_cnn_infer, w6_tiny_latency,
    w7_mlp_block)}

ALL_IDS = tuple(TIMED) + ("W8",)
