"""`gk.utils.Progbar`: the Keras-style progress bar that `fit`, `evaluate` and `predict` show.

On a terminal (verbose=1) the line redraws in place: steps done, a bar, the ETA (or the
elapsed time once done), the time per step and the metrics. When stdout is not a terminal
(a pipe, a log file, CI) it writes no control characters at all: nothing until the target
is reached, then one plain line. verbose=2 always writes only that final line; verbose=0
writes nothing.
"""
import math
import sys
import time

_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def format_value(value, signed=False):
    """Keras's metric formatting: 4 decimals, or scientific notation for tiny values. The bar
    tests the magnitude; Keras's verbose=2 line (`signed`) tests the value itself, so a
    negative one is in scientific notation there (the seeds' `loss: -3.3344e-03`)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return f" {value}"
    large = value > 1e-3 if signed else abs(value) > 1e-3
    return f" {value:.4f}" if large else f" {value:.4e}"


def format_time_per_unit(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def format_duration(seconds):
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


class Progbar:
    """A progress bar over `target` steps (None if unknown).

    `update(current, values)` takes `(name, value)` pairs. By default every value is
    averaged over the steps seen, except names in `stateful_metrics`, which are shown as
    given. With `stateless_metrics` instead, only those names are averaged.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", stream=None):
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: `verbose` must be 0, 1 or 2, received {verbose!r}")
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: pass `stateful_metrics` or `stateless_metrics`, "
                             "not both")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._stream = stream
        self._values = {}          # name -> [weighted sum, count]
        self._order = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_width = 0

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    @property
    def dynamic(self):
        """Whether the output is a terminal, where a line can be redrawn in place."""
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._accumulate(current, values or [], finalize)
        now = time.time()
        per_step = self._time_per_step(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            if self.dynamic:
                self._redraw(current, per_step, now, finalize)
            elif finalize:
                self._write(self._summary_line(current, per_step, now) + "\n")
        elif self.verbose == 2 and finalize:
            self._write(self._summary_line(current, per_step, now) + "\n")
        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    # -- bookkeeping ------------------------------------------------------------------------
    def _accumulate(self, current, values, finalize):
        for name, value in values:
            if name not in self._order:
                self._order.append(name)
            if not self._averaged(name) or finalize:
                self._values[name] = [value, 1]
                continue
            weight = max(current - self._seen_so_far, 1)
            total = self._values.setdefault(name, [0.0, 0])
            total[0] += value * weight
            total[1] += weight
        self._seen_so_far = current

    def _averaged(self, name):
        if self.stateless_metrics is not None:
            return name in self.stateless_metrics
        return name not in self.stateful_metrics

    def _time_per_step(self, current, now):
        # The first step (often a warm-up or a compile) is left out once there are more.
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step

    def _metrics_text(self, signed=False):
        parts = []
        for name in self._order:
            total, count = self._values[name]
            parts.append(f" - {name}:" + format_value(total / max(1, count), signed))
        return "".join(parts)

    def _count_text(self, current):
        if self.target is None or self.target <= 0:
            return "%7d/Unknown" % current
        digits = int(math.log10(self.target)) + 1
        return f"%{digits}d/%d" % (current, self.target)

    # -- output -----------------------------------------------------------------------------
    def _summary_line(self, current, per_step, now):
        """The plain one-line form: `32/32 - 1s - 4ms/step - loss: 0.1234`."""
        return (f"{self._count_text(current)} - {now - self._start:.0f}s - "
                f"{format_time_per_unit(per_step, self.unit_name)}" +
                self._metrics_text(signed=self.verbose == 2))

    def _redraw(self, current, per_step, now, finalize):
        count = self._count_text(current)
        plain = count
        text = f"{_BOLD}{count}{_RESET}"
        if self.target:
            done = int(self.width * min(current / self.target, 1.0))
            plain += " " + "━" * self.width
            text += f" {_GREEN}{'━' * done}{_RESET}{_GREY}{'━' * (self.width - done)}{_RESET}"
        if self.target and not finalize:
            clock = format_duration(per_step * (self.target - current))
        else:
            clock = f"{now - self._start:.0f}s"
        info = f" {clock} {format_time_per_unit(per_step, self.unit_name)}" + \
            self._metrics_text()
        width = len(plain) + len(info)
        line = "\r" + text + f" {_BOLD}{clock}{_RESET}" + info[len(clock) + 1:]
        if self._prev_width > width:  # blank out the rest of a longer previous line
            line += " " * (self._prev_width - width)
        self._prev_width = width
        self._write(line + ("\n" if finalize else ""))

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()
