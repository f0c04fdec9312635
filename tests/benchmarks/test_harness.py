"""The harness turns every peer failure into a row and writes results atomically."""
import json
import time

import numpy as np
import pytest

from benchmarks import report
from benchmarks.harness import (Budget, PeerMissing, Runner, max_abs_error, run_peer,
                                time_limit, PeerTimeout)
from benchmarks.workloads.base import Workload

FAST = Budget(timing_s=0.02, warmup_s=0.0, min_calls=3, rounds=2, build_limit_s=5.0,
              settle_s=0.0)


def _workload(tolerance=1e-6):
    return Workload(id="WT", name="test", what="x * 2", make_data=lambda: {"x": np.ones(3)},
                    reference=lambda d: d["x"] * 2.0, peers={}, tolerance=tolerance)


def _run(build):
    workload = _workload()
    data = workload.make_data()
    return run_peer("peer", build, data, workload, FAST, workload.reference(data))


def test_good_peer_is_timed_and_checked():
    row = _run(lambda d: Runner(call=lambda: d["x"] * 2.0))
    assert row.status == "ok" and row.error_ok and row.max_error == 0.0
    assert row.calls >= 3 and 0 < row.min_s <= row.median_s


def test_failing_build_is_an_error_row_with_one_line():
    def build(d):
        raise ValueError("no such layer\nsecond line")
    row = _run(build)
    assert row.status == "error"
    assert row.message.startswith("ValueError: no such layer second line")
    assert "\n" not in row.message


def test_failure_during_timing_is_an_error_row():
    calls = {"n": 0}

    def call():
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("kernel crashed")
        return np.full(3, 2.0)
    row = _run(lambda d: Runner(call=call))
    assert row.status == "error" and "kernel crashed" in row.message


def test_missing_peer_is_not_an_error():
    def build(d):
        raise PeerMissing("torch not installed")
    row = _run(build)
    assert row.status == "missing" and "torch" in row.message


def test_wrong_output_is_flagged_not_hidden():
    row = _run(lambda d: Runner(call=lambda: d["x"] * 2.1))
    assert row.status == "ok" and row.error_ok is False
    assert row.max_error == pytest.approx(0.1)


def test_time_limit_interrupts_a_stuck_build():
    start = time.perf_counter()
    with pytest.raises(PeerTimeout):
        with time_limit(0.2):
            while True:
                time.sleep(0.01)
    assert time.perf_counter() - start < 2.0


def test_max_abs_error_checks_structure_and_nan():
    assert max_abs_error([1.0, [np.ones(2)]], [1.5, [np.zeros(2)]]) == 1.0
    assert max_abs_error(np.array([np.nan]), np.array([0.0])) == float("inf")
    with pytest.raises(ValueError, match="shape"):
        max_abs_error(np.ones(3), np.ones(4))


def test_ratios_use_the_best_right_peer_only(capsys):
    rows = [_run(lambda d: Runner(call=lambda: d["x"] * 2.0)),
            _run(lambda d: Runner(call=lambda: d["x"] * 3.0))]    # wrong, may be fastest
    rows[0].peer, rows[1].peer = "slow right", "fast wrong"
    rows[0].median_s, rows[1].median_s = 2.0, 1.0
    best = report.add_ratios(rows, floor_s=0.5)
    assert best.peer == "slow right" and rows[0].ratio_best == 1.0 and rows[1].ratio_floor == 2.0
    report.print_table(_workload(), rows, (0.5, "test floor"))
    assert "WRONG" in capsys.readouterr().out


def test_results_json_is_written_atomically(tmp_path):
    path = tmp_path / "results.json"
    report.write_json_atomic(str(path), {"a": np.float32(1.5), "b": np.arange(2)})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1]}

    class Unserializable:
        def __repr__(self):
            raise RuntimeError("boom")
    with pytest.raises(Exception):
        report.write_json_atomic(str(path), {"a": Unserializable()})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1]}  # old file intact
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left
