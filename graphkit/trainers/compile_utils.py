"""What `compile(loss=..., metrics=...)` turns into: one loss over all outputs, and the
metrics of every output, matched to the model's outputs by position or by output name.

Both are built on the first batch, when the structures and shapes of `y` and `y_pred` are
known (that is when "accuracy" can be resolved to binary, categorical or sparse accuracy).
"""

from graphkit import config, ops, tree
from graphkit import losses as losses_module
from graphkit import metrics as metrics_module
from graphkit.core.tensor import Tensor


def output_names_for(y_pred, model_output_names=None):
    """Names of the flattened outputs: the model's, dict keys, or output_1, output_2, ..."""
    flat = tree.flatten(y_pred)
    if isinstance(y_pred, dict):
        return sorted(y_pred)
    if model_output_names and len(model_output_names) == len(flat):
        return list(model_output_names)
    if len(flat) == 1:
        return [model_output_names[0]] if model_output_names else ["output"]
    return [f"output_{i + 1}" for i in range(len(flat))]


def _per_output(spec, names, what):
    """`spec` (one item for every output, a list with one entry per output, or a dict
    keyed by output name) as a list with one entry per output."""
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"compile: `{what}` has keys {unknown} that are not outputs of "
                             f"the model; its outputs are {names}")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(f"compile: the model has {len(names)} output(s) ({names}), so "
                             f"a list `{what}` needs {len(names)} entries, received "
                             f"{len(spec)}")
        return list(spec)
    return [spec] * len(names)


def _pair_structures(y_true, y_pred, names):
    """Flat lists of (y_true, y_pred), matching dict targets to outputs by name."""
    if type(y_pred) is Tensor and type(y_true) is Tensor:
        return [y_true], [y_pred]  # one output, eager: what flattening both would give
    flat_pred = tree.flatten(y_pred)
    if isinstance(y_true, dict) and not isinstance(y_pred, dict):
        missing = [n for n in names if n not in y_true]
        if missing:
            raise ValueError(f"The targets `y` are a dict with keys {sorted(y_true)}, but the "
                             f"model's outputs are {names} (missing {missing})")
        flat_true = [y_true[n] for n in names]
    else:
        flat_true = tree.flatten(y_true)
    if len(flat_true) != len(flat_pred):
        raise ValueError(f"The model has {len(flat_pred)} output(s) but the targets `y` "
                         f"hold {len(flat_true)} array(s)")
    return flat_true, flat_pred


def _flat_sample_weight(sample_weight, names):
    if sample_weight is None:
        return [None] * len(names)
    if isinstance(sample_weight, dict):
        return [sample_weight.get(n) for n in names]
    if isinstance(sample_weight, (list, tuple)):
        if len(sample_weight) != len(names):
            raise ValueError(f"`sample_weight` holds {len(sample_weight)} arrays for "
                             f"{len(names)} outputs")
        return list(sample_weight)
    return [sample_weight] * len(names)


def _resolve_loss(identifier):
    loss = losses_module.get(identifier)
    if loss is None or isinstance(loss, losses_module.Loss):
        return loss
    if callable(loss):
        name = identifier if isinstance(identifier, str) else getattr(loss, "__name__", None)
        return losses_module.LossFunctionWrapper(loss, name=name)
    raise ValueError(f"compile: could not interpret loss {identifier!r}")


def _is_binary_loss(loss):
    fn = getattr(loss, "fn", None)
    return fn is losses_module.binary_crossentropy


class CompileLoss:
    """The total loss: sum over outputs of `loss_weight * loss(y_true, y_pred, weight)`."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        self._spec = loss
        self._weights_spec = loss_weights
        self._model_output_names = output_names
        self.built = False
        self.losses = []
        self.loss_weights = []
        self.output_names = []
        # Per-output loss trackers, reported as "<output>_loss" when there are several.
        self.metrics = []
        self.last_values = []

    def build(self, y_true, y_pred):
        names = output_names_for(y_pred, self._model_output_names)
        self.output_names = names
        self.losses = [_resolve_loss(l) for l in _per_output(self._spec, names, "loss")]
        weights = self._weights_spec
        if weights is None:
            self.loss_weights = [1.0] * len(names)
        elif isinstance(weights, (int, float)):
            self.loss_weights = [float(weights)] * len(names)
        else:
            self.loss_weights = [1.0 if w is None else float(w)
                                 for w in _per_output(weights, names, "loss_weights")]
        if all(l is None for l in self.losses):
            raise ValueError("compile: `loss` names no loss for any output")
        active = [n for n, l in zip(names, self.losses) if l is not None]
        if len(active) > 1:
            self.metrics = [metrics_module.Mean(name=f"{n}_loss") for n in active]
        self.built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        flat_true, flat_pred = _pair_structures(y_true, y_pred, self.output_names)
        weights = _flat_sample_weight(sample_weight, self.output_names)
        total, values = None, []
        for loss, w, yt, yp, sw in zip(self.losses, self.loss_weights, flat_true, flat_pred,
                                       weights):
            if loss is None or yt is None:
                continue
            value = ops.cast(loss(yt, yp, sample_weight=sw), config.floatx())
            values.append(value)
            term = value if w == 1.0 else ops.multiply(value, w)
            total = term if total is None else ops.add(total, term)
        # Kept for the trainer, which reports them through `metrics` (same Python run, so
        # the values are eager tensors or tracers alike).
        self.last_values = values
        return total

    def update_metrics(self, values, batch_size):
        for metric, value in zip(self.metrics, values):
            metric.update_state(value, sample_weight=batch_size)


def _output_prefixed(name, output_names, i):
    """A metric's name, after its output's name when the model has several outputs."""
    return f"{output_names[i]}_{name}" if len(output_names) > 1 else name


def _resolve_metric(identifier, y_true, y_pred, loss):
    """A Metric object for a metric identifier, "accuracy" and "crossentropy" resolved from
    the shapes of the targets and predictions (and the loss), as in Keras."""
    if isinstance(identifier, str) and identifier in ("accuracy", "acc", "crossentropy", "ce"):
        kind = _target_kind(y_true, y_pred, loss)
        if identifier in ("accuracy", "acc"):
            fn = {"binary": metrics_module.binary_accuracy,
                  "sparse": metrics_module.sparse_categorical_accuracy,
                  "categorical": metrics_module.categorical_accuracy}[kind]
            return metrics_module.MeanMetricWrapper(fn, name=identifier)
        fn = {"binary": losses_module.binary_crossentropy,
              "sparse": losses_module.sparse_categorical_crossentropy,
              "categorical": losses_module.categorical_crossentropy}[kind]
        return metrics_module.MeanMetricWrapper(fn, name=identifier)
    metric = metrics_module.get(identifier)
    if isinstance(metric, metrics_module.Metric):
        if isinstance(identifier, str):
            # Keras names a metric given by string after the string ("auc", never "auc_1"),
            # so the logs keys do not depend on how many models were compiled before.
            metric.name = identifier
        return metric
    if callable(metric):
        name = identifier if isinstance(identifier, str) else getattr(metric, "__name__", None)
        return metrics_module.MeanMetricWrapper(metric, name=name)
    raise ValueError(f"compile: could not interpret metric {identifier!r}")


def _build_state(metric, y_true, y_pred):
    """Make the state of a metric whose variables' shapes follow the data (R2Score,
    F1Score), before any step is traced: variables first made inside a trace would not be
    part of the step's state, and the first step's counts would be lost."""
    build_state = getattr(metric, "build_state", None)
    if build_state is not None and y_true is not None:
        build_state(y_true, y_pred)


def _target_kind(y_true, y_pred, loss):
    pred_shape = tuple(y_pred.shape)
    true_shape = tuple(getattr(y_true, "shape", ()))
    if _is_binary_loss(loss) or len(pred_shape) <= 1 or pred_shape[-1] == 1:
        return "binary"
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy) or (
            len(true_shape) < len(pred_shape)) or (
            len(true_shape) == len(pred_shape) and true_shape[-1] == 1):
        return "sparse"
    return "categorical"


class CompileMetrics:
    """The compiled metrics of every output (weighted ones get the sample weights)."""

    def __init__(self, metrics=None, weighted_metrics=None, output_names=None):
        self._metrics_spec = metrics
        self._weighted_spec = weighted_metrics
        self._model_output_names = output_names
        self.built = False
        self.output_names = []
        self._unweighted = []   # per output: list of Metric
        self._weighted = []

    @property
    def metrics(self):
        return [m for group in (self._unweighted, self._weighted) for ms in group for m in ms]

    @staticmethod
    def _expand(spec, names, what):
        """Per output, the list of metric identifiers."""
        if spec is None:
            return [[] for _ in names]
        if isinstance(spec, (list, tuple)) and len(names) == 1:
            per = [list(spec)]
        else:
            per = _per_output(spec, names, what)
        return [[] if item is None else list(item) if isinstance(item, (list, tuple))
                else [item] for item in per]

    def build(self, y_true, y_pred, losses=None):
        names = output_names_for(y_pred, self._model_output_names)
        self.output_names = names
        flat_true, flat_pred = _pair_structures(y_true, y_pred, names)
        losses = losses or [None] * len(names)
        seen = set()
        taken = set()  # the unweighted metrics' names

        def make(groups, weighted):
            built = []
            for i, ids in enumerate(groups):
                ms = []
                for identifier in ids:
                    m = _resolve_metric(identifier, flat_true[i], flat_pred[i], losses[i])
                    _build_state(m, flat_true[i], flat_pred[i])
                    if id(m) in seen:
                        raise ValueError(f"compile: the metric object {m!r} is used twice; "
                                         "give each output its own metric instance")
                    seen.add(id(m))
                    # The name the user gave, kept: building again (a second compile) must
                    # not prefix it twice, and the compile config saves it (see
                    # serialize_metric).
                    base = m.__dict__.setdefault("_compile_base_name", m.name)
                    name = _output_prefixed(base, names, i)
                    # As in Keras, "weighted_" only tells a weighted metric from an
                    # unweighted one of the same name.
                    if weighted and name in taken:
                        name = _output_prefixed("weighted_" + base, names, i)
                    elif not weighted:
                        taken.add(name)
                    m.name = name
                    ms.append(m)
                built.append(ms)
            return built
        self._unweighted = make(self._expand(self._metrics_spec, names, "metrics"), False)
        self._weighted = make(self._expand(self._weighted_spec, names, "weighted_metrics"),
                              True)
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        flat_true, flat_pred = _pair_structures(y_true, y_pred, self.output_names)
        weights = _flat_sample_weight(sample_weight, self.output_names)
        for i, (yt, yp) in enumerate(zip(flat_true, flat_pred)):
            if yt is None:
                continue
            for m in self._unweighted[i]:
                m.update_state(yt, yp)
            for m in self._weighted[i]:
                m.update_state(yt, yp, sample_weight=weights[i])


def serialize_metric(metric):
    """A compiled metric's config under the name the user gave it, not the output-prefixed
    one, so that a model loaded from it names its metrics as the saved one did."""
    config = metrics_module.serialize(metric)
    base = getattr(metric, "_compile_base_name", None)
    if base is not None and isinstance(config, dict) and isinstance(config.get("config"),
                                                                      dict):
        config["config"] = {**config["config"], "name": base}
    return config


def identifier_config(spec, serialize):
    """A JSON-able form of a compile argument (strings stay strings)."""
    if spec is None or isinstance(spec, (str, int, float, bool)):
        return spec
    if isinstance(spec, dict):
        return {k: identifier_config(v, serialize) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [identifier_config(v, serialize) for v in spec]
    return serialize(spec)  # a function serializes to its (registered) name
