"""Running one peer on one workload: build, first call, correctness check, warm-up, timing.

Every failure of a peer (missing package, exception, time limit) becomes a row with an
`error` or `missing` note instead of stopping the run.
"""
import contextlib
import dataclasses
import signal
import time
import traceback
from typing import Any, Callable, Optional

import numpy as np


class PeerMissing(Exception):
    """The peer's package is not installed (the row says so; not an error)."""


class PeerNotApplicable(Exception):
    """The peer has no meaningful version of this workload (e.g. ONNX Runtime training)."""


class PeerTimeout(Exception):
    pass


@dataclasses.dataclass
class Runner:
    """One peer's prepared workload.

    call: one unit of work (an inference, or a train step); returns its output (inference) or
        the step's loss (training), synchronized (no pending asynchronous work).
    params: training only; returns the current weights as a list of arrays.
    stats: compiled graphkit only; returns the compiler's stats dict (memory plan etc.).
    """
    call: Callable[[], Any]
    params: Optional[Callable[[], list]] = None
    stats: Optional[Callable[[], dict]] = None
    note: str = ""


@dataclasses.dataclass
class Row:
    peer: str
    status: str = "ok"            # ok | error | missing | n/a | timeout
    message: str = ""
    median_s: Optional[float] = None
    min_s: Optional[float] = None
    first_call_s: Optional[float] = None
    calls: int = 0
    max_error: Optional[float] = None
    error_ok: Optional[bool] = None
    ratio_best: Optional[float] = None
    ratio_floor: Optional[float] = None
    memory: Optional[dict] = None
    compiler_stats: Optional[dict] = None
    note: str = ""
    extra: dict = dataclasses.field(default_factory=dict)

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Budget:
    """How long to time each peer, and how long its build and first call may take."""
    timing_s: float = 1.5
    warmup_s: float = 0.2
    min_calls: int = 5
    max_calls: int = 20000
    build_limit_s: float = 120.0
    rounds: int = 5               # timing is interleaved across peers in this many rounds
    # A pause before each slice: the previous peer's worker threads spin on for a while
    # after its last call (OpenBLAS's about 60 ms, ONNX Runtime's about 40 ms, measured on
    # 2 cores) and would take a core from whichever peer is timed next.
    settle_s: float = 0.1


@contextlib.contextmanager
def time_limit(seconds):
    """Raise PeerTimeout in the main thread after `seconds` (a peer stuck compiling).

    SIGALRM interrupts Python code between bytecodes, so a compile blocked inside a C call
    is stopped when that call returns; that bounds torch.compile's long but finite builds.
    """
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum, frame):
        raise PeerTimeout(f"took longer than {seconds:.0f} s to build and run once")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def one_line(exc):
    """`Type: message` on one line, with the innermost frame of our own or the peer's code."""
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > 160:
        text = text[:157] + "..."
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" [{last.filename.rsplit('/', 2)[-2:][-1]}:{last.lineno}]"
    return f"{type(exc).__name__}: {text}{where}"


def max_abs_error(actual, expected):
    """max |actual - expected| over a structure of arrays (lists/tuples nest)."""
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            raise ValueError(f"output structure differs from the reference: expected "
                             f"{len(expected)} arrays, got {type(actual).__name__}")
        return max((max_abs_error(a, e) for a, e in zip(actual, expected)), default=0.0)
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"output shape {actual.shape} differs from the reference's "
                         f"{expected.shape}")
    if not np.all(np.isfinite(actual)):
        return float("inf")
    return float(np.max(np.abs(actual - expected))) if actual.size else 0.0


def prepare_peer(name, build, data, workload, budget, expected):
    """Build one peer, run it once (compilation included) and check it against `expected`
    (the float64 reference). Returns (row, runner); runner is None when the peer failed.

    A failure of the peer is recorded in the row, never raised.
    """
    row = Row(peer=name)
    try:
        with time_limit(budget.build_limit_s):
            start = time.perf_counter()
            runner = build(data)
            first = runner.call()
            row.first_call_s = time.perf_counter() - start
            checked = _check_output(runner, first, workload)
        row.max_error = max_abs_error(checked, expected)
        row.error_ok = row.max_error <= workload.tolerance
        row.note = runner.note
        return row, runner
    except Exception as exc:  # any failure of a peer is a row, never the end of the run
        _record_failure(row, exc)
        return row, None


def _record_failure(row, exc):
    row.status, row.message = {
        PeerMissing: ("missing", str(exc)),
        PeerNotApplicable: ("n/a", str(exc)),
        PeerTimeout: ("timeout", str(exc)),
    }.get(type(exc), ("error", one_line(exc)))


def time_interleaved(prepared, budget):
    """Time every prepared peer in rounds: peer A for a slice, peer B for a slice, ...,
    `budget.rounds` times over.

    The machine is shared, so load comes and goes; interleaving spreads it over all peers
    instead of landing on whichever peer was being timed at that moment.
    """
    live = [(row, runner) for row, runner in prepared if runner is not None]
    times = {id(row): [] for row, _ in live}
    for row, runner in list(live):
        if not _guarded(row, lambda: _warm_up(runner.call, budget.warmup_s)):
            live.remove((row, runner))
    slice_s = budget.timing_s / budget.rounds
    for _ in range(budget.rounds):
        for row, runner in list(live):
            samples = times[id(row)]
            time.sleep(budget.settle_s)
            if not _guarded(row, lambda: _time_slice(runner.call, slice_s, budget, samples)):
                live.remove((row, runner))
    for row, runner in live:
        samples = times[id(row)]
        row.median_s, row.min_s, row.calls = \
            float(np.median(samples)), float(np.min(samples)), len(samples)
        if runner.stats is not None:
            row.compiler_stats = _safe_stats(runner.stats)


def run_peer(name, build, data, workload, budget, expected):
    """prepare_peer + time_interleaved for a single peer (a row, whatever happens)."""
    row, runner = prepare_peer(name, build, data, workload, budget, expected)
    time_interleaved([(row, runner)], budget)
    return row


def _guarded(row, fn):
    try:
        fn()
        return True
    except Exception as exc:  # a peer that fails after its first call is still just a row
        _record_failure(row, exc)
        return False


def _warm_up(call, seconds):
    deadline = time.perf_counter() + seconds
    for _ in range(3):
        call()
    while time.perf_counter() < deadline:
        call()


def _time_slice(call, seconds, budget, samples):
    end = time.perf_counter() + seconds
    per_slice = max(1, budget.min_calls // budget.rounds)
    taken = 0
    while (taken < per_slice or time.perf_counter() < end) and len(samples) < budget.max_calls:
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
        taken += 1


def _check_output(runner, first, workload):
    """What gets compared with the float64 reference.

    Inference: the first call's output. Training: the first step's loss, then the weights
    after `workload.check_steps` steps (Adam hides gradient scale errors from the weights,
    so the loss is checked too).
    """
    if runner.params is None:
        return to_numpy(first)
    for _ in range(workload.check_steps - 1):
        runner.call()
    return [to_numpy(first).reshape(()), [to_numpy(p) for p in runner.params()]]


def _safe_stats(stats):
    try:
        return stats()
    except Exception as exc:
        return {"error": one_line(exc)}


def to_numpy(value):
    """A peer's output as a NumPy array (JAX, torch, tinygrad, graphkit all convert)."""
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)
