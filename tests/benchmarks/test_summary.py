"""The README table generator: ratios, verdicts and the W8 cold / warm line from a results
file's rows."""
from benchmarks import summary


def _row(peer, median, minimum=None, ok=True):
    return {"peer": peer, "status": "ok", "median_s": median, "min_s": minimum or median,
            "error_ok": ok}


RESULTS = {
    "machine": {"cpu_model": "Test CPU", "logical_cores": 2, "flags": ["avx2"]},
    "workloads": {
        "W3": {"what": "x", "rows": [_row("numpy", 4e-3), _row("jax.jit", 3e-3),
                                     _row("wrong", 1e-3, ok=False),
                                     _row("graphkit compiled", 2.5e-3),
                                     _row("graphkit eager", 8e-3)]},
        "W8": {"what": "x", "rows": [_row("jax.jit", 0.5, 0.15),
                                     _row("graphkit compiled", 0.4, 0.05)]},
    },
}


def test_ratio_uses_the_fastest_right_peer_and_names_the_verdict():
    line = summary.workload_line("W3", RESULTS["workloads"]["W3"])
    assert "jax.jit 3.000 ms" in line and "0.83 (0.9, met)" in line
    assert "2.00 (1.5, missed)" in line   # eager 8 ms over NumPy 4 ms


def test_w8_line_compares_cold_and_warm_separately():
    line = summary.w8_line(RESULTS["workloads"]["W8"])
    assert "0.80 / 0.33 (1 / 0.3, missed)" in line


def test_table_has_a_line_per_workload():
    text = summary.table(RESULTS)
    assert text.count("\n| W") == 2 and summary.machine_line(RESULTS).endswith("AVX2")
