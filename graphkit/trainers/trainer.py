"""`Trainer`: compile / fit / evaluate / predict, mixed into `gk.Model`.

The three steps are written once, as pure functions of `(state, data)` in the style of
Keras's JAX trainer:

    train_step(state, data) -> (logs, new_state)
        state = (trainable, non_trainable, optimizer, metrics) variable values
    test_step(state, data)  -> (logs, new_state)      state = (trainable, non_trainable, metrics)
    predict_step(state, data) -> (outputs, new_state) state = (trainable, non_trainable)

They read the model through `stateless_call`, the optimizer through `stateless_apply` and
the metrics through `StatelessScope`s, so they never touch a Variable directly. Eagerly, the
loop reads the variables' values, runs a step and assigns the new values back. A compiler
can trace the same functions (variable values in, new values out).

A model may also override `train_step(self, data)` (or `test_step`, `predict_step`) in the
stateful style of Keras's TensorFlow and PyTorch trainers (with a GradientTape and
`self.optimizer.apply`); such overrides run as written.
"""
import gc
import inspect
import logging
import warnings

import numpy as np

from graphkit import config, ops, tree
from graphkit import callbacks as callbacks_module
from graphkit import losses as losses_module
from graphkit import metrics as metrics_module
from graphkit import optimizers as optimizers_module
from graphkit.core import scopes
from graphkit.core.tape import value_and_grad
from graphkit.core.tensor import Tensor, _new_tensor
from graphkit.layers import layer as layer_module
from graphkit.trainers import compile_utils, data as data_module

logger = logging.getLogger("graphkit.trainers")

_JIT_CHOICES = ("auto", True, False)


def compiler_status():
    """(`gk.jit` or None, the reason it is unavailable).

    The first call imports the compiler (~40 modules, on a warm process's first compiled
    step) with the cyclic collector paused, as gk.jit pauses it while compiling: an import
    makes long-lived objects only, and the generation-1 collection it would set off scans
    them and the model's set-up objects for nothing (~1 ms)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        from graphkit.compiler.jit import jit
    except Exception as e:  # any failure to import means: not usable here
        return None, f"graphkit.compiler could not be imported ({type(e).__name__}: {e})"
    finally:
        if was_enabled:
            gc.enable()
    return jit, None


class Trainer:
    """The training API of `gk.Model` (Keras 3's `Trainer`)."""

    # Class-level defaults, so a model works before (and without) `compile`.
    compiled = False
    optimizer = None
    stop_training = False
    history = None
    _compile_loss = None
    _compile_metrics = None
    _loss_tracker = None
    # The epoch the next `fit` starts at, when a callback (BackupAndRestore) sets it in
    # `on_train_begin`; it overrides fit's `initial_epoch` argument, as in Keras.
    _initial_epoch = None

    def __init__(self):
        self._set("compiled", False)
        self._set("optimizer", None)
        self._set("_compile_loss", None)
        self._set("_compile_metrics", None)
        self._set("_loss_tracker", None)

    def _set(self, name, value):
        """Set an attribute without the Layer's tracking: compile state is not model state."""
        object.__setattr__(self, name, value)

    # -- compile ------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        if jit_compile not in _JIT_CHOICES:
            raise ValueError(f"compile: `jit_compile` must be 'auto', True or False, received "
                             f"{jit_compile!r}")
        if steps_per_execution != 1:
            raise ValueError("compile: graphkit runs one step per execution; "
                             f"steps_per_execution must be 1, received {steps_per_execution!r}")
        if run_eagerly and jit_compile is True:
            warnings.warn("compile: run_eagerly=True and jit_compile=True cannot both hold; "
                          "disabling jit_compile", stacklevel=2)
            jit_compile = False
        output_names = getattr(self, "output_names", None)
        self._set("optimizer", _with_loss_scaling(self, optimizers_module.get(optimizer),
                                                  auto_scale_loss))
        self._set("loss", loss)
        self._set("_compile_loss", None if loss is None else compile_utils.CompileLoss(
            loss, loss_weights, output_names))
        self._set("_compile_metrics", None if metrics is None and weighted_metrics is None
                  else compile_utils.CompileMetrics(metrics, weighted_metrics, output_names))
        self._set("_loss_tracker", metrics_module.Mean(name="loss"))
        self._set("_run_eagerly", bool(run_eagerly))
        self._set("_jit_compile", jit_compile)
        self._set("_step_functions", {})
        self._set("_jit_fallback_logged", False)
        self._set("_compile_config", {
            "optimizer": optimizer, "loss": loss, "metrics": metrics,
            "loss_weights": loss_weights, "weighted_metrics": weighted_metrics,
            "run_eagerly": run_eagerly, "jit_compile": jit_compile})
        self._set("compiled", True)

    @property
    def run_eagerly(self):
        return getattr(self, "_run_eagerly", False)

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._set("_run_eagerly", bool(value))
        self._set("_step_functions", {})

    @property
    def jit_compile(self):
        return getattr(self, "_jit_compile", "auto")

    @jit_compile.setter
    def jit_compile(self, value):
        if value not in _JIT_CHOICES:
            raise ValueError(f"`jit_compile` must be 'auto', True or False, received {value!r}")
        self._set("_jit_compile", value)
        self._set("_step_functions", {})

    def get_compile_config(self):
        """The compile arguments, JSON-able (objects serialized), for saving."""
        if not self.compiled:
            return None
        c = self._compile_config
        return {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": compile_utils.identifier_config(c["loss"], losses_module.serialize),
            "metrics": compile_utils.identifier_config(c["metrics"],
                                                       compile_utils.serialize_metric),
            "loss_weights": c["loss_weights"],
            "weighted_metrics": compile_utils.identifier_config(c["weighted_metrics"],
                                                                compile_utils.serialize_metric),
            "run_eagerly": c["run_eagerly"], "jit_compile": c["jit_compile"],
        }

    def compile_from_config(self, config):
        if type(self).compile is not Trainer.compile:
            # As Keras: a custom compile() (a GAN's, with its own arguments) cannot take the
            # saved arguments; the model loads uncompiled.
            warnings.warn(
                f"{type(self).__name__}: compile() was not called as part of model loading "
                "because the model's compile() method is custom. A subclass that overrides "
                "compile() should also override get_compile_config() and "
                "compile_from_config(config), or call compile() after loading.",
                stacklevel=2)
            return
        config = dict(config)
        config["optimizer"] = optimizers_module.deserialize(config["optimizer"])
        for key, module in (("loss", losses_module), ("metrics", metrics_module),
                            ("weighted_metrics", metrics_module)):
            config[key] = _deserialize_nested(config.get(key), module)
        self.compile(**config)

    def _assert_compiled(self, method):
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before `{method}()` on model "
                               f"'{getattr(self, 'name', type(self).__name__)}'")

    # -- metrics ------------------------------------------------------------------------------
    @property
    def metrics(self):
        """Metric objects: the loss tracker, the compiled metrics, per-output losses, then
        the metrics that layers track."""
        out = []
        if self.compiled:
            out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.extend(self._compile_metrics.metrics)
            if self._compile_loss is not None:
                out.extend(self._compile_loss.metrics)
        parent = super()
        out.extend(getattr(parent, "metrics", None) or [])
        return out

    @property
    def metrics_names(self):
        """The names of `metrics` (evaluate's list order for a single-output model; see
        `_flatten_in_order`).

        Keras 3 reports the compiled metrics under one name ("compile_metrics"); graphkit
        lists each metric, so the names line up with the logs' keys.
        """
        return [m.name for m in self.metrics]

    @property
    def metrics_variables(self):
        return [v for m in self.metrics for v in m.variables]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        """{name: result} of every metric (dict results are merged)."""
        logs = {}
        for m in self.metrics:
            result = m.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[m.name] = result
        return logs

    # -- loss ---------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss plus every `add_loss` loss of the forward pass."""
        total = None
        if self._compile_loss is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        extra = getattr(self, "_pending_losses", None)
        if extra is None:
            extra = getattr(self, "losses", [])
        for loss in extra:
            term = ops.sum(ops.cast(loss, config.floatx()))
            total = term if total is None else ops.add(total, term)
        if total is None and y is None and self._compile_loss is not None:
            raise ValueError(f"Target data is missing: the model was compiled with "
                             f"loss={self.loss!r}, so it needs targets `y` (or batches of "
                             "`(x, y)`); received y=None")
        if total is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`, "
                             "or add losses in `call()` with `self.add_loss()`.")
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics; returns the logs of every metric."""
        if self._compile_metrics is not None and y is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    # -- the pure steps -----------------------------------------------------------------------
    def train_step(self, state, data):
        """One training step: `(logs, new_state)` from `state` and a batch."""
        trainable, non_trainable, optimizer_values, metric_values = state
        x, y, sample_weight = data_module.unpack_x_y_sample_weight(data)

        def loss_fn(trainable_values):
            y_pred, new_non_trainable, losses = self.stateless_call(
                trainable_values, non_trainable, x, return_losses=True, training=True)
            loss = self._stateless_loss(trainable_values, new_non_trainable, x, y, y_pred,
                                        sample_weight, losses, training=True)
            per_output = list(self._compile_loss.last_values) \
                if self._compile_loss is not None else []
            scaled = self.optimizer.stateless_scale_loss(optimizer_values, loss)
            return scaled, (loss, y_pred, new_non_trainable, per_output)

        (_, aux), grads = value_and_grad(loss_fn, has_aux=True)(list(trainable))
        loss, y_pred, non_trainable, per_output = aux
        trainable, optimizer_values = self.optimizer.stateless_apply(
            optimizer_values, grads, trainable)
        logs, metric_values = self._stateless_metrics(metric_values, loss, per_output, x, y,
                                                      y_pred, sample_weight)
        return logs, (trainable, non_trainable, optimizer_values, metric_values)

    def test_step(self, state, data):
        """One evaluation step: `(logs, new_state)`."""
        trainable, non_trainable, metric_values = state
        x, y, sample_weight = data_module.unpack_x_y_sample_weight(data)
        y_pred, non_trainable, losses = self.stateless_call(
            trainable, non_trainable, x, return_losses=True, training=False)
        loss = self._stateless_loss(trainable, non_trainable, x, y, y_pred, sample_weight,
                                    losses, training=False)
        per_output = list(self._compile_loss.last_values) \
            if self._compile_loss is not None else []
        logs, metric_values = self._stateless_metrics(metric_values, loss, per_output, x, y,
                                                      y_pred, sample_weight)
        return logs, (trainable, non_trainable, metric_values)

    def predict_step(self, state, data):
        """One prediction step: `(outputs, new_state)`."""
        trainable, non_trainable = state
        x, _, _ = data_module.unpack_x_y_sample_weight(data)
        y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x,
                                                    training=False)
        return y_pred, (trainable, non_trainable)

    def _stateless_loss(self, trainable, non_trainable, x, y, y_pred, sample_weight, losses,
                        training):
        """`compute_loss` with the model's variables bound to the given values and the
        forward pass's `add_loss` losses."""
        own_t, own_nt = _variable_groups(self)
        mapping = list(zip(own_t, trainable)) + list(zip(own_nt, non_trainable))
        self._set("_pending_losses", losses)
        try:
            with scopes.StatelessScope(mapping):
                return self.compute_loss(x=x, y=y, y_pred=y_pred,
                                         sample_weight=sample_weight, training=training)
        finally:
            self._set("_pending_losses", None)

    def _stateless_metrics(self, metric_values, loss, per_output_losses, x, y, y_pred,
                           sample_weight):
        variables = self.metrics_variables
        batch_size = _batch_size(x)
        with scopes.StatelessScope(list(zip(variables, metric_values))) as scope:
            # Weighted by the batch size, the epoch's loss is a mean over samples.
            self._loss_tracker.update_state(loss, sample_weight=batch_size)
            if self._compile_loss is not None:
                self._compile_loss.update_metrics(per_output_losses, batch_size)
            logs = self.compute_metrics(x, y, y_pred, sample_weight)
        new_values = [_current(scope, v, old) for v, old in zip(variables, metric_values)]
        return logs, new_values

    # -- running a step -----------------------------------------------------------------------
    def _state_variables(self, kind):
        """The variable groups of a step's state, in the order the step takes them."""
        model = _variable_groups(self)
        if kind == "train":
            return model + (self.optimizer.variables, self.metrics_variables)
        if kind == "test":
            return model + (self.metrics_variables,)
        return model

    def _step_function(self, kind):
        """The `StepFunction` for `kind` ("train", "test", "predict"), made once per
        compile (and again when `run_eagerly` or `jit_compile` change)."""
        cache = getattr(self, "_step_functions", None)
        if cache is None:
            cache = {}
            self._set("_step_functions", cache)
        if kind not in cache:
            cache[kind] = StepFunction(self, kind)
        return cache[kind]

    # Keras's names for the functions that run one step; graphkit makes them on first use.
    @property
    def train_function(self):
        """The train step as run by `fit`: a `StepFunction` (see `.lower(x, y)` for the
        compiled IR and its `.stats()`)."""
        return self._step_function("train")

    @property
    def test_function(self):
        return self._step_function("test")

    @property
    def predict_function(self):
        return self._step_function("predict")

    def make_train_function(self, force=False):
        return self._remake_step("train", force)

    def make_test_function(self, force=False):
        return self._remake_step("test", force)

    def make_predict_function(self, force=False):
        return self._remake_step("predict", force)

    def _remake_step(self, kind, force):
        if force:
            getattr(self, "_step_functions", {}).pop(kind, None)
        return self._step_function(kind)

    def _jit_for_steps(self):
        """`gk.jit`, or None when the steps run eagerly (with the reason logged once)."""
        if self.run_eagerly or self.jit_compile is False:
            return None
        jit, reason = compiler_status()
        if jit is None:
            if self.jit_compile is True:
                raise RuntimeError(
                    "compile(jit_compile=True): the graphkit compiler is not available yet "
                    f"({reason}). Use jit_compile='auto' or False to train eagerly.")
            if not getattr(self, "_jit_fallback_logged", False):
                logger.info("jit_compile='auto': the graphkit compiler is not available "
                            "(%s); train, test and predict steps run eagerly.", reason)
                self._set("_jit_fallback_logged", True)
        return jit

    def _run(self, kind, batch):
        """Run a step on a batch `(x, y, sample_weight)`; the step gets the batch packed as
        Keras packs it: `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
        data = data_module.pack_x_y_sample_weight(*data_module.unpack_x_y_sample_weight(batch))
        return self._step_function(kind)(_to_tensors(data))

    def _pack_batch(self, kind, batch):
        """A batch as the step takes it, with the model built for it."""
        self._prepare(batch, for_training=kind == "train")
        data = data_module.pack_x_y_sample_weight(*data_module.unpack_x_y_sample_weight(batch))
        return _to_tensors(data)

    # -- building -----------------------------------------------------------------------------
    def _prepare(self, batch, for_training):
        """Build the model, the compiled loss and metrics and the optimizer on a batch."""
        x, y, _ = data_module.unpack_x_y_sample_weight(batch)
        needs_model = not getattr(self, "built", True)
        needs_loss = self._compile_loss is not None and not self._compile_loss.built
        needs_metrics = self._compile_metrics is not None and not self._compile_metrics.built
        needs_optimizer = for_training and self.optimizer is not None \
            and not self.optimizer.built
        if not (needs_model or needs_loss or needs_metrics or needs_optimizer):
            return  # every step after the first: nothing to build
        x = _to_tensors(x)
        if needs_model:
            self(x)  # a subclassed model creates its weights on its first call
        if (needs_loss or needs_metrics) and y is not None:
            y = _to_tensors(y)
            y_pred = self._output_spec(x)
            if needs_loss:
                self._compile_loss.build(y, y_pred)
            if needs_metrics:
                losses = self._compile_loss.losses if self._compile_loss is not None else None
                self._compile_metrics.build(y, y_pred, losses)
        if for_training and self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def _output_spec(self, x):
        """Shapes and dtypes of the outputs for `x`, without running the model's kernels
        when a symbolic pass can tell."""
        try:
            return self.compute_output_spec(x)
        except Exception:  # Python control flow on values: ask the real model, side-effect free
            with scopes.StatelessScope():
                return self(x, training=False)

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs; returns the `History`. `batch_size` defaults to 32 (with
        array data and `steps_per_epoch`, to what covers the data in that many steps)."""
        self._assert_compiled("fit")
        _check_verbose(verbose)
        _check_validation_freq(validation_freq)
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = data_module.train_validation_split(
                (x, y, sample_weight), validation_split)
        if validation_data is not None:
            val_x, val_y, val_sw = data_module.unpack_x_y_sample_weight(validation_data)
        iterator = data_module.EpochIterator(x, y, sample_weight, batch_size=batch_size,
                                             steps_per_epoch=steps_per_epoch, shuffle=shuffle,
                                             class_weight=class_weight)
        callbacks = self._callback_list(callbacks, verbose, epochs, iterator.num_batches,
                                        add_history=True)
        self.stop_training = False
        prepared = False
        callbacks.on_train_begin()
        initial_epoch = self._take_initial_epoch(initial_epoch)
        epoch_logs = {}
        training_logs = None
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs = {}
            for step, batch in iterator.enumerate_epoch():
                if not prepared:
                    self._prepare(batch, for_training=True)
                    prepared = True
                callbacks.on_train_batch_begin(step)
                logs = _pythonify(self._run("train", batch))
                callbacks.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if iterator.ran_out_of_data:
                self.stop_training = True
            epoch_logs = dict(logs)
            if validation_data is not None and _should_validate(epoch, validation_freq) \
                    and not iterator.ran_out_of_data:
                val_logs = self.evaluate(val_x, val_y, sample_weight=val_sw,
                                         batch_size=validation_batch_size or batch_size,
                                         steps=validation_steps, callbacks=callbacks,
                                         return_dict=True, verbose=0)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training:
                break
        if epochs > 0 and self.optimizer is not None:
            # As Keras: with use_ema=True the model ends training on its averaged weights.
            self.optimizer.finalize_variable_values(self.trainable_variables)
        callbacks.on_train_end(logs=training_logs)
        return callbacks.history

    def _take_initial_epoch(self, initial_epoch):
        """The epoch a callback asked `fit` to start at, else `initial_epoch`. Taken once:
        unlike Keras, a later `fit` is not started at a stale epoch."""
        restored = self._initial_epoch
        self._set("_initial_epoch", None)
        return restored or initial_epoch

    # -- evaluate -----------------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics over the data: a dict, or values in `metrics_names` order."""
        self._assert_compiled("evaluate")
        _check_verbose(verbose)
        iterator = data_module.EpochIterator(x, y, sample_weight, batch_size=batch_size,
                                             steps_per_epoch=steps, shuffle=False,
                                             repeat=False, steps_name="steps")
        if not isinstance(callbacks, callbacks_module.CallbackList):
            callbacks = self._callback_list(callbacks, verbose, 1, iterator.num_batches)
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        for step, batch in iterator.enumerate_epoch():
            self._prepare(batch, for_training=False)
            callbacks.on_test_batch_begin(step)
            logs = _pythonify(self._run("test", batch))
            callbacks.on_test_batch_end(step, logs)
        logs = _pythonify(self._metrics_result_or_logs(logs)) if logs else logs
        callbacks.on_test_end(logs)
        return logs if return_dict else self._flatten_in_order(logs)

    def _metrics_result_or_logs(self, logs):
        """The metrics' results; or, as in Keras, the last step's logs when their keys are
        not the metrics' (a custom `test_step` returning logs of its own)."""
        results = self.get_metrics_result()
        return results if set(results) == set(logs) else logs

    def _flatten_in_order(self, logs):
        """Keras 3's list order: the values of `metrics_names`, then the other keys, sorted.
        Keras keys a multi-output model's compiled metrics `<output>_<metric>` in the logs
        only, so its names miss them: they come after the per-output losses, sorted."""
        if len(logs) == 1:
            # One entry (a model compiled with a loss only): that value, whatever the order,
            # without listing the metrics' names (a walk of the layers, on every batch).
            for value in logs.values():
                return value
        names = self.metrics_names
        compiled = self._compile_metrics
        if compiled is not None and len(compiled.output_names) > 1:
            prefixed = {m.name for m in compiled.metrics}
            names = [n for n in names if n not in prefixed]
        values = [logs[n] for n in names if n in logs]
        values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # -- predict ------------------------------------------------------------------------------
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample of `x`, batched; NumPy arrays in the outputs' structure."""
        _check_verbose(verbose)
        iterator = data_module.EpochIterator(x, batch_size=batch_size, steps_per_epoch=steps,
                                             shuffle=False, repeat=False, steps_name="steps")
        callbacks = self._callback_list(callbacks, verbose, 1, iterator.num_batches)
        callbacks.on_predict_begin()
        batches = []
        for step, batch in iterator.enumerate_epoch():
            x_batch = data_module.unpack_x_y_sample_weight(batch)[0]
            self._prepare((x_batch,), for_training=False)
            callbacks.on_predict_batch_begin(step)
            outputs = self._run("predict", (x_batch,))
            outputs = tree.map_structure(lambda t: np.asarray(t), outputs)
            batches.append(outputs)
            callbacks.on_predict_batch_end(step, {"outputs": outputs})
        callbacks.on_predict_end()
        if not batches:
            raise ValueError("predict: the input produced no batches")
        return tree.map_structure(lambda *parts: np.concatenate(parts, axis=0), *batches)

    # -- single batches -----------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; the logs are this batch's (as in Keras 3, the
        metrics are reset first)."""
        self._assert_compiled("train_on_batch")
        self._reset_batch_metrics("train")
        if class_weight:
            if sample_weight is not None:
                raise ValueError("You cannot use `class_weight` and `sample_weight` at the "
                                 "same time")
            sample_weight = data_module.class_weight_to_sample_weight(y, class_weight)
        logs = self._run_bound("train", x, y, sample_weight)
        if logs is None:
            logs = self._run_on_batch("train", x, y, sample_weight)
        logs = _pythonify(logs)
        return logs if return_dict else self._flatten_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("test_on_batch")
        self._reset_batch_metrics("test")
        logs = self._run_bound("test", x, y, sample_weight)
        if logs is None:
            logs = self._run_on_batch("test", x, y, sample_weight)
        logs = _pythonify(logs)
        return logs if return_dict else self._flatten_in_order(logs)

    def _reset_batch_metrics(self, kind):
        """`reset_metrics()` before a single-batch step (Keras 3 logs that batch alone), at
        a small step's cost: a metric with the default reset whose arrays are the step's own
        (`_StateBuffers`: private buffers, updated in place by every step anyway) is zeroed
        in place, so the compiled step stays bound to them (assigning new arrays cost W4's
        compiled step 11%); any other metric is reset by its `reset_state`."""
        steps = getattr(self, "_step_functions", None)
        step = steps.get(kind) if steps else None
        for m in self.metrics:
            if step is None or type(m).reset_state is not metrics_module.Metric.reset_state:
                m.reset_state()
                continue
            for v in m.variables:
                array = step.owned_array(v)
                if array is not None:
                    array.fill(0)
                else:
                    v.assign(ops.zeros(v.shape, dtype=v.dtype))

    def _run_bound(self, kind, x, y, sample_weight):
        """The step's logs from the caller's own arrays, when the compiled step bound to the
        last batch takes them as they are (it checks their structure, shapes and dtypes:
        such arrays are what standardizing the batch would give), else None. Skips the
        batch's standardization, a third of a small step's Python time (W4)."""
        steps = getattr(self, "_step_functions", None)
        step = steps.get(kind) if steps else None
        if step is None:
            return None
        result = step.call_bound(data_module.pack_x_y_sample_weight(x, y, sample_weight))
        return None if result is _MISSED else result

    def _run_on_batch(self, kind, x, y, sample_weight):
        """`_run` on a batch the caller gave as it is: its leaves are standardized and
        wrapped as Tensors in one walk, not two."""
        batch = data_module.standardize_batch((x, y, sample_weight), wrap=Tensor)
        self._prepare(batch, for_training=kind == "train")
        return self._step_function(kind)(data_module.pack_x_y_sample_weight(*batch))

    def predict_on_batch(self, x):
        batch = data_module.standardize_batch((x,))
        self._prepare(batch, for_training=False)
        outputs = self._run("predict", batch[:1])
        return tree.map_structure(lambda t: np.asarray(t), outputs)

    # -- helpers ------------------------------------------------------------------------------
    def _callback_list(self, callbacks, verbose, epochs, steps, add_history=False):
        if isinstance(callbacks, callbacks_module.CallbackList):
            return callbacks
        return callbacks_module.CallbackList(
            callbacks, add_history=add_history, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps)


class StepFunction:
    """One step of `fit`/`evaluate`/`predict` as the loops run it: `step_function(data)`.

    A pure step (`(state, data)`) is fed the variables' current values and its new state is
    assigned back; a stateful override (`(data)`) runs as written. With a compiler the step
    goes through `gk.jit`; with jit_compile='auto' a failure to compile falls back to the
    eager step (once, with the reason logged).

    `lower(x, y=None, sample_weight=None)` returns the jit `Lowered` of the step for that
    batch (`.as_text(stage)`, `.stats()`), and `jitted` the `gk.jit` function itself
    (`.cache_info()`), for benchmarks and debugging.

    A compiled pure step donates its state (`gk.jit(donate_argnums=(0,))`): the new weights,
    optimizer slots and metric totals are written in place over the old ones, so a step
    allocates no state arrays and the native code sees the same pointers every call. The
    arrays it overwrites are the step function's own (`_StateBuffers`): a variable's array is
    copied once when the step first sees it, so arrays the user handed to `set_weights` or
    `assign` are never written. `variable.numpy()` and `get_weights()` return copies; a
    Tensor taken from `variable.value` shares the live buffer while training runs.
    """

    def __init__(self, model, kind):
        self.model, self.kind = model, kind
        self.method = getattr(model, f"{kind}_step")
        self.pure = _takes_state(self.method)
        jit = model._jit_for_steps()
        step = _named_step(self.method, kind, self.pure)
        self.jitted = None if jit is None else (
            jit(step, donate_argnums=(0,)) if self.pure else jit(step))
        self.failed = False
        self._buffers = _StateBuffers()
        self._bound = None        # _BoundStep: the last compiled signature, called directly
        self._checked = set()     # ids of jit cache entries known to be fully native

    @property
    def is_compiled(self):
        """Whether calls go through the compiler (False when eager or after a fallback)."""
        return self.jitted is not None and not self.failed

    def call_bound(self, data):
        """The step's result through the compiled step bound to the last batch, when it
        takes `data` as it is (it checks structure, shapes and dtypes first), else _MISSED."""
        bound = self._bound
        if bound is None or self.failed:
            return _MISSED
        return bound(data)

    def owned_array(self, variable):
        """`variable`'s array when it is the step's own live buffer (see `_StateBuffers`),
        else None."""
        array = self._buffers.owned(variable)
        return array if array is not None and variable._value._array is array else None

    def __call__(self, data):
        if not self.pure:
            return self._call_step(data)
        result = self.call_bound(data)
        if result is not _MISSED:
            return result
        groups = self.model._state_variables(self.kind)
        state = self._buffers.state(groups)
        if not self.is_compiled:
            # Eager: the step's own arrays are donated to in-place updates too (the eager
            # Adam writes new weights and slots over them instead of allocating).
            with scopes.donated(self._buffers.arrays):
                outputs, new_state = self._call_step(state, data)
        else:
            outputs, new_state = self._call_step(state, data)
        self._buffers.write_back(groups, state, new_state)
        if self.is_compiled and not self.failed:
            self._bound = _BoundStep.create(self.jitted, groups, state, data, self._buffers)
        return outputs

    def _call_step(self, *args):
        if not self.is_compiled:
            return self.method(*args)
        try:
            result = self.jitted(*args)
        except Exception as e:
            if self.model.jit_compile is True:
                raise
            self.failed = True
            logger.info("jit_compile='auto': the %s step could not be compiled (%s: %s); "
                        "running it eagerly.", self.kind, type(e).__name__, e)
            return self.method(*args)
        self._check_native(args)
        return result

    def _check_native(self, args):
        """A compiled step must be native throughout (SPEC: "auto" compiles when every op
        in the step can be lowered). The backend can run a kernel it cannot lower on the
        interpreter; a step with such a kernel fails under jit_compile=True and goes eager
        under "auto", either way naming the op. Checked once per compiled signature, after
        the call that compiled it (that call's results are right: it ran mixed)."""
        entry = self.jitted.entry_for(*args)
        if entry is None or id(entry) in self._checked:
            return
        self._checked.add(id(entry))
        stats = entry.executable.stats() if hasattr(entry.executable, "stats") else {}
        missing = stats.get("interpreted_kernels") or []
        if not missing:
            return
        first = missing[0]
        reason = (f"{len(missing)} kernel(s) of the {self.kind} step of model "
                  f"'{self.model.name}' cannot be lowered to native code; first: "
                  f"{first['reason']} (stage: lowering)")
        if self.model.jit_compile is True:
            from graphkit.compiler.executable import CompileError
            raise CompileError(f"compile(jit_compile=True): {reason}. Use "
                               "jit_compile='auto' to run this step eagerly.")
        self.failed = True
        self._bound = None
        logger.warning("jit_compile='auto': %s; the %s step runs eagerly.", reason, self.kind)

    def lower(self, x, y=None, sample_weight=None):
        """The jit `Lowered` of this step for one batch (nothing is run or assigned)."""
        if self.jitted is None:
            raise RuntimeError(
                f"{self.kind}_function.lower: model '{self.model.name}' runs its steps "
                f"eagerly (run_eagerly={self.model.run_eagerly}, "
                f"jit_compile={self.model.jit_compile!r}); there is no compiled step")
        data = self.model._pack_batch(self.kind, data_module.standardize_batch(
            (x, y, sample_weight)))
        if not self.pure:
            return self.jitted.lower(data)
        groups = self.model._state_variables(self.kind)
        state = tuple([_fresh(v.value) for v in group] for group in groups)
        return self.jitted.lower(state, data)

    def __repr__(self):
        mode = "compiled" if self.is_compiled else "eager"
        return f"<StepFunction {self.kind} of '{self.model.name}': {mode}>"


class _StateBuffers:
    """The arrays a compiled, donating step may overwrite: one private array per variable.

    `state(groups)` gives the step's state, each variable's value over its own array. A
    variable whose array is not the one recorded here (first step, `assign`, `set_weights`)
    gets a private copy first, so the step never writes into an array someone else holds.
    Two places sharing one array (a variable listed twice, outputs adopted twice) get
    separate copies: two donated inputs must never share memory. After the step,
    `updated_in_place` tells when an output is the variable's own array, already holding
    its new value; other outputs are assigned and `adopt`ed (a fresh array from the
    executable belongs to nobody else).
    """

    def __init__(self):
        self._own = {}   # id(variable) -> (variable, array)
        self.arrays = []  # the arrays of the last `state`, in order (a step may donate them)

    def state(self, groups):
        """The step's state: per group, each variable's value over its own array."""
        own = self._own
        out = []
        arrays = []
        for group in groups:
            values = []
            for v in group:
                array = v._value._array
                mine = own.get(id(v))
                if mine is None or mine[0] is not v or mine[1] is not array:
                    return self._state_with_copies(groups)
                arrays.append(array)
                values.append(_new_tensor(array))  # Tensor(array), without its checks
            out.append(values)
        # Every variable holds its own array (every step after the first): one check that
        # no two share an array, instead of one per variable.
        if len(set(map(id, arrays))) != len(arrays):
            return self._state_with_copies(groups)
        self.arrays = arrays
        return tuple(out)

    def _state_with_copies(self, groups):
        """`state`, giving a private copy to each variable that does not hold its own
        array yet, or holds one an earlier place of the state already took (the first
        step, or after `assign`/`set_weights`: per variable, so not the fast path)."""
        seen = set()
        out = tuple([self._value(v, seen) for v in group] for group in groups)
        self.arrays = [t._array for values in out for t in values]
        return out

    def _value(self, variable, seen):
        key = id(variable)
        array = variable._value._array
        mine = self._own.get(key)
        if mine is None or mine[0] is not variable or mine[1] is not array \
                or id(array) in seen:
            array = np.array(array)       # C-contiguous private copy
            variable.assign(Tensor(array))
            self._own[key] = (variable, array)
        seen.add(id(array))
        return Tensor(array)

    def write_back(self, groups, state, new_state):
        """Assign a step's new state to its variables, skipping values that are unchanged
        or were updated in place (the variable's own array, already holding them)."""
        own = self._own
        for group, old_values, values in zip(groups, state, new_state):
            for variable, old, value in zip(group, old_values, values):
                if value is None or value is old:  # unchanged: nothing to do
                    continue
                mine = own.get(id(variable))
                if mine is not None and mine[0] is variable and type(value) is Tensor \
                        and value._array is mine[1]:
                    continue  # updated_in_place, inlined: this runs per variable per step
                if not self.updated_in_place(variable, value):
                    variable.assign(value)
                    self.adopt(variable, value)

    def owned(self, variable):
        """The array recorded as `variable`'s own, or None."""
        mine = self._own.get(id(variable))
        return mine[1] if mine is not None and mine[0] is variable else None

    def updated_in_place(self, variable, value):
        mine = self._own.get(id(variable))
        return (mine is not None and mine[0] is variable and isinstance(value, Tensor)
                and value._array is mine[1])

    def adopt(self, variable, value):
        array = variable._value._array
        self._own[id(variable)] = (variable, array)


_MISSED = object()


class _BoundStep:
    """A compiled pure step, called without gk.jit's per-call work (~0.1 ms for a train
    step's 40 state leaves, as much as a small model's whole native step).

    Made after a compiled call, for its signature: it keeps the jit cache entry, the state
    variables in order, where each param and output goes, and the data's shapes. A call
    checks the data leaves against them (else it returns `_MISSED` and the caller takes the
    full path, which traces if needed), feeds the executable the variables' own arrays (copied
    once when a variable was assigned from outside, as `_StateBuffers` does) and the data,
    then assigns only the variables that were not updated in place. The variable list is
    fixed for the StepFunction's life; `compile()` or `make_train_function(force=True)` make
    a new one.
    """

    @classmethod
    def create(cls, jitted, groups, state, data, buffers):
        entry_for = getattr(jitted, "entry_for", None)
        entry = entry_for(state, data) if entry_for is not None else None
        if entry is None or entry.touches_variables:
            return None  # variables read or written by the trace itself: the full path
        variables = [v for group in groups for v in group]
        data_leaves = tree.flatten(data)
        if len(tree.flatten(state)) != len(variables) or not all(
                type(a) is Tensor for a in data_leaves):
            return None
        out_ids = tree.pack_sequence_as(entry.out_tree, list(range(len(entry.out_leaves))))
        if not (isinstance(out_ids, tuple) and len(out_ids) == 2):
            return None
        state_ids = tree.flatten(out_ids[1])
        if len(state_ids) != len(variables):
            return None
        return cls(entry, variables, data, data_leaves, out_ids[0], state_ids, buffers)

    def __init__(self, entry, variables, data, data_leaves, log_ids, state_ids, buffers):
        self.entry = entry
        self.run = entry.executable.run
        self.variables = variables
        self.owned = [buffers.owned(v) for v in variables]
        self.arg_leaves = entry.arg_leaves
        self.n_state = len(variables)
        self.data_structure = tree.structure_signature(data)
        self.data_specs = [(a._array.shape, a._array.dtype) for a in data_leaves]
        self.floatx = config.floatx()
        self.trainable_changes = layer_module.TRAINABLE_CHANGES[0]
        self.log_ids = log_ids
        self.flat_logs = isinstance(log_ids, dict) and all(
            isinstance(i, int) for i in log_ids.values())
        out_leaves = entry.out_leaves
        graph = entry.executable.graph
        param_of = {p: i for i, p in enumerate(graph.params)}
        self.updates = []   # (variable position, executable output index) to write back
        for k, idx in enumerate(state_ids):
            kind, ref = out_leaves[idx]
            if kind != "graph":
                self.updates.append((k, None, ref))
                continue
            out = graph.outputs[ref]
            j = param_of.get(out)
            if j is not None and self.arg_leaves[j] == k:
                continue    # returned unchanged: nothing to write back
            self.updates.append((k, ref, None))
        self.out_leaves = out_leaves

    def __call__(self, data):
        if self.entry.stale_reason() is not None or config.floatx() != self.floatx or \
                layer_module.TRAINABLE_CHANGES[0] != self.trainable_changes:
            return _MISSED  # the full path sees a changed set of trainable variables
        leaves = tree.flatten(data)
        specs = self.data_specs
        if len(leaves) != len(specs):
            return _MISSED
        arrays = []
        for a, (shape, dtype) in zip(leaves, specs):
            a = a._array if type(a) is Tensor else a
            if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != dtype:
                return _MISSED
            arrays.append(a)
        if tree.structure_signature(data) != self.data_structure:
            return _MISSED
        flat = self._state_arrays() + arrays
        outs = self.run([flat[i] for i in self.arg_leaves])
        self._write_back(outs)
        return self._logs(outs)

    def _state_arrays(self):
        owned = self.owned
        arrays = []
        for k, v in enumerate(self.variables):
            a = v._value._array
            if a is not owned[k]:
                # assigned from outside since the last step: a private copy to overwrite
                a = owned[k] = np.array(a)
                v.assign(Tensor(a))
            arrays.append(a)
        return arrays

    def _write_back(self, outs):
        owned, variables = self.owned, self.variables
        for k, ref, static in self.updates:
            if ref is None:
                variables[k].assign(static)
                owned[k] = None
                continue
            a = outs[ref]
            if a is owned[k]:
                continue    # updated in place (donated)
            if any(a is o for o in owned):
                a = np.array(a)  # never let two variables share one buffer
            variables[k].assign(Tensor(a))
            owned[k] = variables[k]._value._array

    def _logs(self, outs):
        out_leaves = self.out_leaves

        def value(i):
            kind, ref = out_leaves[i]
            return Tensor(outs[ref]) if kind == "graph" else ref
        if self.flat_logs:
            return {name: value(i) for name, i in self.log_ids.items()}
        return tree.map_structure(value, self.log_ids)


def _named_step(method, kind, pure):
    """A plain function calling the bound step, named `<kind>_step`. gk.jit identifies a
    function by its code and closure; a bound method's code is shared by every model, so
    without this closure two models would look like one function jitted twice."""
    if pure:
        def step(state, data):
            return method(state, data)
    else:
        def step(data):
            return method(data)
    step.__name__ = step.__qualname__ = f"{kind}_step"
    return step


def _takes_state(method):
    """Whether a step method has the pure `(state, data)` signature."""
    try:
        params = [p for p in inspect.signature(method).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return True
    return len(params) >= 2


def _variable_groups(model):
    """The model's (trainable, non-trainable) variables, in one walk when the model can."""
    groups = getattr(model, "_variable_groups", None)
    if groups is not None:
        return groups()
    return model.trainable_variables, model.non_trainable_variables


def _fresh(value):
    """A new Tensor object over the same array (no copy), so that two variables' values
    are never the same object and their gradients cannot be confused."""
    return Tensor(value.numpy()) if isinstance(value, Tensor) else value


def _to_tensors(structure):
    def convert(a):
        if a is None or hasattr(type(a), "_bind_priority"):
            return a
        if type(a) is np.ndarray and data_module.standardize_array(a) is a:
            return Tensor(a)  # already standard: what convert_to_tensor would make of it
        return ops.convert_to_tensor(data_module.standardize_array(a))
    return tree.map_structure(convert, structure)


def _batch_size(x):
    for leaf in tree.flatten(x):
        if hasattr(leaf, "shape") and len(leaf.shape) > 0:
            return leaf.shape[0]
    return 1


def _pythonify(logs):
    """Logs as Python floats (NumPy arrays for non-scalar results), as callbacks expect,
    with their keys sorted as Keras 3's `pythonify_logs` sorts them (its History, progress
    bar and `return_dict` results read "accuracy", then "loss")."""
    logs = logs or {}
    out = {}
    for k in sorted(logs):
        v = logs[k]
        a = v._array if type(v) is Tensor else np.asarray(v)
        out[k] = a.item() if a.ndim == 0 else a
    return out


def _current(scope, variable, old):
    new = scope.get_current_value(variable)
    return old if new is None else new


def _with_loss_scaling(model, optimizer, auto_scale_loss):
    """As Keras: a mixed_float16 model's optimizer is wrapped in a LossScaleOptimizer, so
    that small float16 gradients are not flushed to zero."""
    if auto_scale_loss and model.dtype_policy.name == "mixed_float16" and not isinstance(
            optimizer, optimizers_module.LossScaleOptimizer):
        return optimizers_module.LossScaleOptimizer(optimizer, name="loss_scale_optimizer")
    return optimizer


def _should_validate(epoch, validation_freq):
    if isinstance(validation_freq, (int, np.integer)):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in validation_freq


def _check_validation_freq(validation_freq):
    if isinstance(validation_freq, (int, np.integer)) and not isinstance(validation_freq, bool):
        if validation_freq >= 1:
            return
    elif isinstance(validation_freq, (list, tuple, set)) and all(
            isinstance(e, (int, np.integer)) for e in validation_freq):
        return
    raise ValueError("`validation_freq` must be a positive integer (validate every that many "
                     "epochs) or a list of 1-based epoch numbers, received "
                     f"{validation_freq!r}")


def _check_verbose(verbose):
    if verbose not in ("auto", 0, 1, 2):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2, received {verbose!r}")


def _deserialize_nested(spec, module):
    if spec is None:
        return None
    if isinstance(spec, list):
        return [_deserialize_nested(s, module) for s in spec]
    if isinstance(spec, dict) and "class_name" not in spec:
        return {k: _deserialize_nested(v, module) for k, v in spec.items()}
    if isinstance(spec, str) and spec in module.REGISTRY.objects:
        return spec  # a built-in name ("accuracy" is resolved from the targets later)
    return module.deserialize(spec)
