"""Which way a monitored quantity should go, shared by EarlyStopping and ModelCheckpoint."""


def monitor_direction(monitor, mode, model, caller):
    """'min' or 'max' for `monitor` under `mode` ('auto' asks the model's metrics)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{caller}: `mode` must be 'auto', 'min' or 'max', received {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss"):
        return "min"
    for metric in _all_metrics(model):
        if metric.name == name and hasattr(metric, "_direction"):
            return "max" if metric._direction == "up" else "min"
    raise ValueError(
        f"{caller} received monitor={monitor!r}, but graphkit cannot tell whether that "
        "metric should be maximized or minimized. Pass mode='max' to track its highest "
        "value, or mode='min' to track its lowest.")


def _all_metrics(model):
    out = []
    for m in getattr(model, "metrics", None) or []:
        out.append(m)
        out.extend(getattr(m, "metrics", None) or [])
    return out
