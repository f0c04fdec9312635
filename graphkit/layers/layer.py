"""`gk.layers.Layer`: state (variables) plus a computation (`call`), as in Keras 3.

`Layer.__call__` runs these steps, in this order:
  1. convert array inputs to tensors, casting floats to the compute dtype;
  2. check that positional arguments are tensors;
  3. check `input_spec` against the first argument;
  4. build the layer once (`build(input_shape)`), inside its name scope;
  5. resolve `training` through the call context (explicit > outer call > default);
  6. pass the input's mask as `mask=` when `call` takes one;
  7. run `call` (eagerly, or symbolically on KerasTensors), set the outputs' masks;
  8. on KerasTensors, record a `Node` of the functional graph.
"""
import collections
import inspect
import warnings

import numpy as np

from graphkit import naming, tree
from graphkit.core import scopes
from graphkit.core import keras_tensor as kt
from graphkit.core.tensor import Tensor
from graphkit.core.variable import Variable
from graphkit.layers import auto_config, symbolic
from graphkit.layers import call_context as cc
from graphkit.layers import dtype_policy as dp
from graphkit.layers import input_spec as input_spec_mod
from graphkit.layers.call_spec import CallSpec, is_value, shapes_dict, shapes_for
from graphkit.layers.tracking import CHANGES as _TRACKING_CHANGES, Tracker

# The thread-local stacks read directly on the eager fast path of `__call__`.
_CALL_CONTEXTS = cc._local
_AUTOCAST_STACKS = scopes._local

# Attributes the layer machinery sets for itself: never wrapped or tracked.
_INTERNAL = frozenset({
    "_tracker", "_trainable_variables", "_non_trainable_variables", "_layers", "_metrics",
    "_seed_generators", "_losses", "_inbound_nodes", "_outbound_nodes", "_call_signature",
    "_auto_config", "_auto_config_error", "_build_shapes_dict", "_call_context_args",
    "_input_shape_arg", "_scope_open", "_lock", "build", "_path", "_eager_call_plan", "_walks",
})

class Layer:
    # Attributes never wrapped or tracked (subclasses may add their own internals).
    _untracked_attrs = _INTERNAL

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.__dict__["_lock"] = True  # cleared by Layer.__init__: detects a missing super call
        auto_config.capture(obj, cls, args, kwargs)
        _wrap_build(obj)
        return obj

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None,
                 autocast=True, name=None, **kwargs):
        self.__dict__["_lock"] = False
        input_dim = kwargs.pop("input_dim", None)
        input_shape = (input_dim,) if input_dim is not None else kwargs.pop("input_shape", None)
        self._input_shape_arg = None if input_shape is None else tuple(input_shape)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to "
                             f"{type(self).__name__}: {kwargs}")
        if name is None:
            name = naming.auto_name(type(self).__name__)
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{type(self).__name__}: `name` must be a non-empty string without "
                             f"'/', received name={name!r}")
        if not isinstance(trainable, (bool, np.bool_)):
            raise ValueError(f"{type(self).__name__} '{name}': `trainable` must be a boolean, "
                             f"received trainable={trainable!r}")
        self.name = name
        self._dtype_policy = dp.get(dtype)
        self.activity_regularizer = _get_regularizer(activity_regularizer)
        self.autocast = autocast
        self.built = False
        self.supports_jit = True
        self._input_spec = None
        self._path = None
        self._trainable = bool(trainable)
        self._losses = []
        self._inbound_nodes = []
        self._outbound_nodes = []
        self._build_shapes_dict = None
        self._scope_open = False
        self._call_signature = inspect.signature(self.call)
        params = self._call_signature.parameters
        self._call_has_training_arg = "training" in params
        self._call_has_mask_arg = "mask" in params
        self._call_context_args = {"training"}
        self._supports_masking = type(self).compute_mask is not Layer.compute_mask
        self._convert_input_args = True
        self._allow_non_tensor_positional_args = False
        self._initialize_tracker()

    # -- tracking -------------------------------------------------------------------------------
    def _initialize_tracker(self):
        if "_tracker" in self.__dict__:
            return
        stores = {name: [] for name in ("trainable", "non_trainable", "metrics", "layers",
                                        "seeds")}
        self.__dict__["_tracker"] = Tracker({
            "trainable": (lambda x: isinstance(x, Variable) and x.trainable, stores["trainable"]),
            "non_trainable": (lambda x: isinstance(x, Variable) and not x.trainable,
                              stores["non_trainable"]),
            "metrics": (_is_metric, stores["metrics"]),
            "layers": (lambda x: isinstance(x, Layer) and not _is_metric(x), stores["layers"]),
            "seeds": (_is_seed_generator, stores["seeds"]),
        }, exclusions={"non_trainable": ["trainable"]})
        d = self.__dict__
        d["_trainable_variables"] = stores["trainable"]
        d["_non_trainable_variables"] = stores["non_trainable"]
        d["_metrics"] = stores["metrics"]
        d["_layers"] = stores["layers"]
        d["_seed_generators"] = stores["seeds"]

    def __setattr__(self, name, value):
        if name in self._untracked_attrs or name.startswith("__"):
            object.__setattr__(self, name, value)
            return
        if "_tracker" not in self.__dict__:
            self._initialize_tracker()
        tracker = self._tracker
        old = self.__dict__.get(name)
        value = tracker.track(value)
        object.__setattr__(self, name, value)
        if old is not None and old is not value and tracker.tracks(old) \
                and not self._referenced_elsewhere(old, name):
            tracker.untrack(old)

    def __delattr__(self, name):
        old = self.__dict__.get(name)
        object.__delattr__(self, name)
        if old is not None and "_tracker" in self.__dict__ and \
                not self._referenced_elsewhere(old, name):
            self._tracker.untrack(old)

    def _referenced_elsewhere(self, target, skip):
        for attr, value in self.__dict__.items():
            if attr == skip or attr in self._untracked_attrs:
                continue
            if value is target:
                return True
            if isinstance(value, (list, tuple, dict)):
                try:
                    if any(leaf is target for leaf in tree.flatten(value)):
                        return True
                except TypeError:
                    continue
        return False

    def _track_variable(self, variable):
        store = "trainable" if variable.trainable else "non_trainable"
        self._tracker.add_to_store(store, variable)
        if not self.trainable:
            variable.trainable = False

    # -- weights ---------------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   name=None):
        self._check_super_called()
        shape = () if shape is None else _standardize_weight_shape(shape, self, name)
        dtype = self.variable_dtype if dtype is None else _std_dtype(dtype)
        if initializer is None:
            initializer = "glorot_uniform" if "float" in dtype else "zeros"
        initializer = _get_initializer(initializer)
        with self._name_scope():
            variable = Variable(initializer=initializer, shape=shape, dtype=dtype,
                                trainable=trainable, autocast=autocast, name=name,
                                constraint=_get_constraint(constraint),
                                aggregation=aggregation)
        variable.regularizer = _get_regularizer(regularizer)
        self._track_variable(variable)
        return variable

    def add_variable(self, shape=None, initializer=None, dtype=None, trainable=True,
                     autocast=True, regularizer=None, constraint=None, name=None):
        """Alias of `add_weight`."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype,
                               trainable=trainable, autocast=autocast, regularizer=regularizer,
                               constraint=constraint, name=name)

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        TRAINABLE_CHANGES[0] += 1
        for v in self._trainable_variables:
            v.trainable = value
        for layer in self._layers:
            layer.trainable = value

    @property
    def variables(self):
        """All state: weights plus SeedGenerator states (metric variables excluded)."""
        return list(self._walk("variables"))

    def _walk(self, prop):
        """What the `prop` property ("variables", "weights" or "metrics") lists, kept until
        a tracker's stores change (training reads these lists several times per step). A
        tree where some sublayer overrides `prop` is walked every time: its list may change
        anytime. Callers must not modify the list."""
        cache = self.__dict__.get("_walks")
        if cache is not None:
            entry = cache.get(prop)
            if entry is not None and entry[0] == _TRACKING_CHANGES[0]:
                return entry[1]
        out, seen = [], set()
        if self._collect_metrics(out) if prop == "metrics" else self._collect(out, seen, prop):
            if cache is None:
                cache = self.__dict__["_walks"] = {}
            cache[prop] = (_TRACKING_CHANGES[0], out)
        return out

    def _collect(self, out, seen, prop):
        """Append to `out` what the `prop` property ("variables" or "weights") lists: own
        variables, seed states (variables only), then each sublayer's. One walk with one
        `seen` set gives the same first-occurrence order as deduplicating each sublayer's
        own list, without building those lists. True when no sublayer overrides `prop`
        (the list then follows from the trackers' stores alone)."""
        if self._trainable_variables:  # many layers (inputs, merges) own none
            _extend_unique(out, seen, self._trainable_variables)
        if self._non_trainable_variables:
            _extend_unique(out, seen, self._non_trainable_variables)
        if prop == "variables" and self._seed_generators:
            _extend_unique(out, seen, [sg.state for sg in self._seed_generators])
        base = getattr(Layer, prop)
        pure = True
        for layer in self._layers:
            if getattr(type(layer), prop) is base:
                pure = layer._collect(out, seen, prop) and pure
            else:
                _extend_unique(out, seen, getattr(layer, prop))
                pure = False
        return pure

    @property
    def trainable_variables(self):
        return [v for v in self.variables if v.trainable] if self.trainable else []

    def _variable_groups(self):
        """`(trainable_variables, non_trainable_variables)`, from one walk of the layers
        when neither property is overridden (training steps read both on every step)."""
        cls = type(self)
        if cls.trainable_variables is not Layer.trainable_variables or \
                cls.non_trainable_variables is not Layer.non_trainable_variables or \
                cls.variables is not Layer.variables:
            return self.trainable_variables, self.non_trainable_variables
        variables = self._walk("variables")
        if not self.trainable:
            return [], list(variables)
        return [v for v in variables if v.trainable], [v for v in variables if not v.trainable]

    @property
    def non_trainable_variables(self):
        return [v for v in self.variables if not v.trainable] if self.trainable \
            else self.variables

    @property
    def weights(self):
        """Own variables (trainable, then non-trainable), then each sublayer's, recursively."""
        return list(self._walk("weights"))

    @property
    def trainable_weights(self):
        return [v for v in self._walk("weights") if v.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [v for v in self.weights if not v.trainable] if self.trainable \
            else self.weights

    @property
    def metrics(self):
        return list(self._walk("metrics"))

    def _collect_metrics(self, out):
        """Append this layer's metrics, then each sublayer's, to `out`; True when no
        sublayer overrides `metrics` (see `_walk`)."""
        out.extend(self._metrics)
        pure = True
        for layer in self._layers:
            if type(layer).metrics is Layer.metrics:
                pure = layer._collect_metrics(out) and pure
            else:
                out.extend(layer.metrics)
                pure = False
        return pure

    @property
    def metrics_variables(self):
        return [v for m in self.metrics for v in m.variables]

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        own = self.weights
        weights = list(weights)
        if len(own) != len(weights):
            raise ValueError(
                f"Layer '{self.name}': set_weights() received a list of {len(weights)} "
                f"weights, but the layer has {len(own)} weights "
                f"({[v.path for v in own]})")
        for i, (variable, value) in enumerate(zip(own, weights)):
            shape = tuple(np.shape(value))
            if shape != tuple(variable.shape):
                raise ValueError(
                    f"Layer '{self.name}': weight {i} '{variable.path}' has shape "
                    f"{tuple(variable.shape)}, but the value given for it has shape {shape}")
        for variable, value in zip(own, weights):
            variable.assign(value)

    def count_params(self):
        if not self.built:
            raise ValueError(f"count_params() was called on layer '{self.name}', which is not "
                             f"built yet. Call it on data or call `layer.build(input_shape)`.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    def save_own_variables(self, store):
        for i, v in enumerate(self._trainable_variables + self._non_trainable_variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        keys = list(store.keys())
        if len(keys) != len(own):
            hint = "" if own or self.built else (
                " The layer was never built: build it (or implement build_from_config) "
                "before loading its variables.")
            raise ValueError(f"Layer '{self.name}' expected {len(own)} variables, but received "
                             f"{len(keys)} variables during loading. Expected: "
                             f"{[v.path for v in own]}.{hint}")
        for i, v in enumerate(own):
            value = np.asarray(store[str(i)])
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(f"Layer '{self.name}': variable '{v.path}' has shape "
                                 f"{tuple(v.shape)}, but the stored value '{i}' has shape "
                                 f"{tuple(value.shape)}")
            v.assign(value)

    # -- dtypes ----------------------------------------------------------------------------------
    @property
    def dtype_policy(self):
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._dtype_policy = dp.get(value)

    @property
    def dtype(self):
        return self.variable_dtype

    @property
    def compute_dtype(self):
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self._dtype_policy.variable_dtype

    @property
    def input_dtype(self):
        return self.compute_dtype

    # -- build ------------------------------------------------------------------------------------
    @property
    def path(self):
        return self._path

    @property
    def input_spec(self):
        return self._input_spec

    @input_spec.setter
    def input_spec(self, value):
        self._input_spec = value

    def build(self, input_shape=None):
        """Default build: builds unbuilt sublayers by running `call` on symbolic inputs."""
        if input_shape is not None and any(not l.built for l in self._layers):
            self._build_by_symbolic_run(input_shape)

    def _build_by_symbolic_run(self, input_shape):
        inputs = symbolic.keras_tensors_for(input_shape, self.compute_dtype)
        try:
            with kt.symbolic_call_scope():
                self.call(inputs)
        except Exception as e:
            warnings.warn(f"Layer '{self.name}' has unbuilt sublayers, and running its call() "
                          f"on symbolic inputs of shape {input_shape} to build them failed: "
                          f"{e}. Implement build(input_shape) to create all its state.")

    def get_build_config(self):
        if self._build_shapes_dict is None:
            return None
        if len(self._build_shapes_dict) == 1:
            return {"input_shape": next(iter(self._build_shapes_dict.values()))}
        return {"shapes_dict": dict(self._build_shapes_dict)}

    def build_from_config(self, config):
        if not config:
            return
        if "input_shape" in config:
            self.build(symbolic.tuplify_shape(config["input_shape"]))
        elif "shapes_dict" in config:
            self.build(**{k: symbolic.tuplify_shape(v) for k, v in config["shapes_dict"].items()})

    def _maybe_build(self, call_spec):
        if self.built:
            return
        shapes = shapes_dict(call_spec)
        if _overrides(self, "build"):
            self.build(**shapes_for(self.build, shapes, call_spec, type(self).__name__))
            # build() may have set input_spec: check again.
            self._assert_input_compatibility(call_spec.first_arg)
        else:
            # Nothing to build up front; sublayers build during the call itself.
            first = next(iter(shapes.values()), None)
            self._build_shapes_dict = {"input_shape": first}
            self._path = naming.current_path()
            self.built = True

    # -- the call --------------------------------------------------------------------------------
    def call(self, *args, **kwargs):
        raise TypeError(f"Layer {type(self).__name__} has no call() method: subclasses of "
                        f"gk.layers.Layer must implement call(self, inputs, ...)")

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and not kwargs and not self.__dict__.get("_lock", True) \
                and self.built and _eager_input(args[0], self):
            plan = self.__dict__.get("_eager_call_plan")
            if plan is None or plan[0] is not self._call_signature:
                plan = self._make_eager_call_plan()
            if plan[1] is not None:
                return self._eager_call_one_input(args[0], plan)
        self._check_super_called()
        original_args, original_kwargs = args, dict(kwargs)
        # Fast path for the common `layer(tensor)`: no structure to walk.
        single = len(args) == 1 and not kwargs and is_value(args[0])
        if single:
            symbolic = isinstance(args[0], kt.KerasTensor)
        else:
            symbolic = kt.any_symbolic_tensors(args, kwargs)
        if not (single and _needs_no_cast(args[0], self)):
            with kt.no_node_recording():
                args, kwargs = self._convert_inputs(args, kwargs)
        self._check_positional(args)
        call_spec = CallSpec(self._call_signature, self._call_context_args, args, kwargs,
                             self.name)
        self._assert_input_compatibility(call_spec.first_arg)
        with self._name_scope():
            self._maybe_build(call_spec)
        outputs = self._call_with_spec(call_spec, args, kwargs, symbolic)
        if symbolic and kt.is_recording_nodes():
            from graphkit.models.node import Node
            Node(self, original_args, original_kwargs, outputs)
        return outputs

    def _call_with_spec(self, call_spec, args, kwargs, symbolic):
        """Steps 5 to 7 of `__call__`: the call context, masks, `call` and output masks."""
        context, entered = self._enter_call_context()
        saved = {name: context.get_value(name) for name in self._call_context_args}
        try:
            for name in self._call_context_args:
                self._resolve_context_arg(name, call_spec, context, kwargs)
            self._populate_masks(call_spec, kwargs)
            previous_mask = kwargs.get("mask")
            if previous_mask is None:
                first = call_spec.first_arg
                previous_mask = first._keras_mask if type(first) is Tensor \
                    else tree.map_structure(get_keras_mask, first)
            if symbolic:
                outputs = self._symbolic_outputs(args, kwargs)
            else:
                outputs = self._eager_outputs(args, kwargs)
            self._set_output_masks(call_spec.first_arg, outputs, previous_mask)
        finally:
            for name, value in saved.items():
                context.set_value(name, value)
            if entered:
                cc.set_call_context(None)
        return outputs

    # -- the eager fast path of `layer(tensor)` ----------------------------------------------------
    def _make_eager_call_plan(self):
        """What binding one positional Tensor to `call()` gives, found once per signature:
        `(signature, first parameter name, {other parameter: default})`, or a name of None
        when the signature needs the general path (required extra parameters, *args first,
        or a default that is a tensor or a structure)."""
        signature = self._call_signature
        params = list(signature.parameters.values())
        first, defaults = None, {}
        if params and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                         inspect.Parameter.POSITIONAL_OR_KEYWORD):
            first = params[0].name
            for p in params[1:]:
                if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) \
                        or p.default is inspect.Parameter.empty or is_value(p.default) \
                        or tree.is_nested(p.default):
                    first = None
                    break
                defaults[p.name] = p.default
        if first is not None and first in self._call_context_args:
            first = None
        plan = (signature, first, defaults)
        self.__dict__["_eager_call_plan"] = plan
        return plan

    def _eager_call_one_input(self, x, plan):
        """`__call__` on one eager Tensor (or a list or tuple of them) needing no cast, for a
        built layer: the general path with the argument binding taken from `plan`, and
        without the steps that cannot apply (conversion, building, nodes)."""
        _, first, defaults = plan
        if type(x) is list:
            x = list(x)  # call() gets its own list, as the general path's conversion gives
        self._assert_input_compatibility(x)
        context = getattr(_CALL_CONTEXTS, "context", None)  # cc.get_call_context(), inlined
        if context is not None and _no_masks_in_or_out(self, x, defaults) \
                and self._call_context_args == _TRAINING_ONLY:
            return self._eager_call_in_context(x, context, defaults)
        return self._call_with_spec(CallSpec.one_input(first, x, defaults), (x,), {}, False)

    def _eager_call_in_context(self, x, context, defaults):
        """`_call_with_spec` for a layer called inside another's call, with no masks in or
        out and `training` its only context argument (a model's layers, every step): the
        flag resolved as there (the outer call's value, else this call's default), without
        building the CallSpec."""
        outer = context.values.get("training")
        value = outer if outer is not None else defaults.get("training")
        kwargs = {"training": value} if value is not None and "training" in defaults else {}
        if value is outer:
            return self._call_in_scope(x, kwargs)
        context.values["training"] = value
        try:
            return self._call_in_scope(x, kwargs)
        finally:
            context.values["training"] = outer

    def _call_in_scope(self, x, kwargs):
        """`_eager_outputs((x,), kwargs)` in the common case, as one function: this runs for
        every layer of a model on every step. No autocast scope applies (no scope open, the
        policy is not mixed), no activity regularizer, and the name scope is not open yet:
        `_LayerNameScope`'s push and pop are inlined here."""
        d = self.__dict__
        policy = self._dtype_policy
        if _AUTOCAST_STACKS.autocast or d.get("_scope_open", False) \
                or self.activity_regularizer is not None \
                or policy.compute_dtype != policy.variable_dtype:
            return self._eager_outputs((x,), kwargs)
        names = naming._stack()
        names.append(self.name)
        d["_scope_open"] = True
        try:
            outputs = self.call(x, **kwargs)
        finally:
            d["_scope_open"] = False
            names.pop()
        if type(outputs) is not Tensor:  # a single Tensor (the common case) has no Variable
            outputs = tree.map_structure(_variable_to_value, outputs)
        return outputs

    def _convert_inputs(self, args, kwargs):
        if not self._convert_input_args:
            return args, kwargs
        policy, dtype = self._dtype_policy, self.input_dtype

        def convert(x):
            mask = get_keras_mask(x)
            y = policy.convert_input(x, self.autocast, dtype)
            if mask is not None and y is not x:
                set_keras_mask(y, mask)
            return y
        return tree.map_structure(convert, args), tree.map_structure(convert, kwargs)

    def _check_positional(self, args):
        if self._allow_non_tensor_positional_args:
            return
        for x in tree.flatten(args):
            if x is not None and not is_value(x):
                raise ValueError(
                    f"Layer '{self.name}': only input tensors may be passed as positional "
                    f"arguments. Pass this argument by keyword instead: {x!r} "
                    f"(of type {type(x).__name__})")

    def _enter_call_context(self):
        context = cc.get_call_context()
        if context is not None:
            return context, False
        context = cc.CallContext(entry_layer=self)
        cc.set_call_context(context)
        self._clear_losses()
        return context, True

    def _resolve_context_arg(self, name, call_spec, context, kwargs):
        # Explicit argument > value from an outer call > default of this call() signature.
        if name in call_spec.user_arguments:
            value = call_spec.user_arguments[name]
        elif context.get_value(name) is not None:
            value = context.get_value(name)
        else:
            value = call_spec.arguments.get(name)
        context.set_value(name, value)
        if name in self._call_signature.parameters and value is not None:
            kwargs[name] = value

    def _populate_masks(self, call_spec, kwargs):
        tensors = call_spec.tensor_arguments
        if len(tensors) == 1:
            if "mask" in call_spec.arguments and call_spec.arguments["mask"] is None:
                only = next(iter(tensors.values()))
                mask = tree.map_structure(get_keras_mask, only)
                if any(m is not None for m in tree.flatten(mask)):
                    kwargs["mask"] = mask
        elif len(tensors) > 1:
            for name, value in tensors.items():
                mask_name = f"{name}_mask"
                if mask_name in call_spec.arguments and call_spec.arguments[mask_name] is None:
                    mask = tree.map_structure(get_keras_mask, value)
                    if any(m is not None for m in tree.flatten(mask)):
                        kwargs[mask_name] = mask

    def _autocast_scope(self):
        current = scopes.autocast_dtype()
        if current is not None:
            if not self.autocast or "float" not in self.compute_dtype:
                return scopes.autocast(None)
            if current != self.compute_dtype:
                return scopes.autocast(self.compute_dtype)
            return None
        if self.compute_dtype != self.variable_dtype:
            return scopes.autocast(self.compute_dtype)
        return None

    def _run_call(self, fn, args, kwargs):
        with self._name_scope():
            scope = self._autocast_scope()
            if scope is None:
                return fn(*args, **kwargs)
            with scope:
                return fn(*args, **kwargs)

    def _eager_outputs(self, args, kwargs):
        outputs = self._run_call(self.call, args, kwargs)
        if type(outputs) is not Tensor:  # a single Tensor (the common case) has no Variable
            outputs = tree.map_structure(_variable_to_value, outputs)
        self._add_activity_regularization(outputs)
        return outputs

    def _symbolic_outputs(self, args, kwargs):
        with kt.symbolic_call_scope():
            outputs = self._run_call(self.compute_output_spec, args, kwargs)
        return symbolic.fresh_symbolic_outputs(self, args, kwargs, outputs)

    def _add_activity_regularization(self, outputs):
        if self.activity_regularizer is None:
            return
        from graphkit import ops
        for out in tree.flatten(outputs):
            if is_value(out):
                loss = self.activity_regularizer(out)
                if out.ndim > 0 and out.shape[0]:
                    # Divided by the batch size, as in Keras 3.
                    loss = ops.divide(loss, ops.cast(out.shape[0], loss.dtype))
                self.add_loss(loss)

    def _set_output_masks(self, first_arg, outputs, previous_mask):
        if type(self).compute_mask is Layer.compute_mask and (
                previous_mask is None or type(previous_mask) is not Tensor and all(
                    m is None for m in tree.flatten(previous_mask))):
            return  # no mask in, and the default compute_mask passes none on
        flat_outputs = tree.flatten(outputs)
        if not self.supports_masking:
            # A call() that takes `mask` consumed it; otherwise the mask is lost: say so.
            if not self._call_has_mask_arg and any(
                    m is not None for m in tree.flatten(previous_mask)):
                warnings.warn(
                    f"Layer '{self.name}' (of type {type(self).__name__}) was passed an input "
                    "with a mask attached to it, but it does not support masking, so the mask "
                    "is dropped: downstream layers will not see it.", stacklevel=3)
            return
        if all(get_keras_mask(x) is not None for x in flat_outputs):
            return
        with kt.no_node_recording():
            masks = self.compute_mask(first_arg, previous_mask)
        if masks is None:
            return
        for x, m in zip(flat_outputs, tree.flatten(masks)):
            if m is not None and get_keras_mask(x) is None:
                set_keras_mask(x, m)

    def _assert_input_compatibility(self, first_arg):
        spec = self.input_spec
        if not spec:
            return
        if type(first_arg) is not Tensor:
            input_spec_mod.assert_input_compatibility(spec, first_arg, self.name)
            return
        # The check reads only the spec and the input's shape and dtype: an eager Tensor of
        # the shape and dtype that last passed against this very spec passes again, and a
        # training loop calls each layer on such inputs every step.
        key = (spec, first_arg._array.shape, first_arg._array.dtype)
        passed = self.__dict__.get("_input_spec_passed")
        if passed is not None and passed[0] is spec and passed[1:] == key[1:]:
            return
        input_spec_mod.assert_input_compatibility(spec, first_arg, self.name)
        self.__dict__["_input_spec_passed"] = key

    # -- masking ---------------------------------------------------------------------------------
    @property
    def supports_masking(self):
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        self._supports_masking = bool(value)

    def compute_mask(self, inputs, previous_mask):
        return previous_mask

    # -- output specs ----------------------------------------------------------------------------
    def compute_output_spec(self, *args, **kwargs):
        """KerasTensors describing the outputs for these (symbolic) inputs."""
        if _overrides(self, "compute_output_shape"):
            spec = CallSpec(self._call_signature, set(), args, dict(kwargs), self.name)
            shapes = shapes_for(self.compute_output_shape, shapes_dict(spec), spec,
                                type(self).__name__)
            out_shape = self.compute_output_shape(**shapes)
            return symbolic.map_shapes(lambda s: kt.KerasTensor(s, self.compute_dtype), out_shape)
        args, kwargs = tree.map_structure(symbolic.as_symbolic, (args, kwargs))
        with kt.symbolic_call_scope():
            return self.call(*args, **kwargs)

    def compute_output_shape(self, *args, **kwargs):
        """Output shape(s) for input shape(s), found by running `call` symbolically."""
        inputs = [symbolic.keras_tensors_for(s, self.compute_dtype) for s in args]
        kw = {k: symbolic.keras_tensors_for(s, self.compute_dtype) for k, s in kwargs.items()}
        with kt.symbolic_call_scope(), self._name_scope():
            if not self.built and _overrides(self, "build"):
                self.build(*args, **kwargs)
            out = self.call(*inputs, **kw)
        return tree.map_structure(lambda x: tuple(x.shape), out)

    # -- losses ----------------------------------------------------------------------------------
    def add_loss(self, loss):
        """Add scalar loss value(s) (from call() or build()); see `losses`."""
        for x in tree.flatten(loss):
            if isinstance(x, kt.KerasTensor):
                continue  # a symbolic call only infers shapes; the real loss comes at run time
            if not is_value(x):
                from graphkit import ops
                x = ops.convert_to_tensor(x)
            self._losses.append(x)

    @property
    def losses(self):
        """Losses of the last forward pass (sublayers' included) plus weight regularization."""
        out = []
        for layer in self._all_layers():  # this layer's own losses first
            out.extend(layer._losses)
        out.extend(self._regularization_losses())
        return out

    def _regularization_losses(self):
        return [v.regularizer(v) for v in self.trainable_weights
                if getattr(v, "regularizer", None) is not None]

    def _clear_losses(self):
        for layer in self._all_layers():
            layer._losses.clear()

    def _flatten_layers(self, include_self=True, recursive=True):
        if recursive:
            layers = self._all_layers()
            return list(layers) if include_self else layers[1:]
        return ([self] if include_self else []) + _unique(self._layers)

    def _all_layers(self):
        """This layer, then every sublayer depth first, each once; kept until a tracker's
        stores change (each training step walks the tree for the losses). Callers must not
        modify the list."""
        cache = self.__dict__.get("_walks")
        entry = cache.get("layers") if cache is not None else None
        if entry is not None and entry[0] == _TRACKING_CHANGES[0]:
            return entry[1]
        layers = [self]
        seen = set()
        queue = collections.deque(self._layers)
        while queue:
            layer = queue.popleft()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            layers.append(layer)
            queue.extendleft(reversed(layer._layers))
        if cache is None:
            cache = self.__dict__["_walks"] = {}
        cache["layers"] = (_TRACKING_CHANGES[0], layers)
        return layers

    # -- stateless call ---------------------------------------------------------------------------
    def stateless_call(self, trainable_variables, non_trainable_variables, *args,
                       return_losses=False, **kwargs):
        """Run `call` on the given variable values; the layer's own state is left untouched.

        Returns `(outputs, non_trainable_variables)` (the updated values), plus the losses
        with `return_losses=True`.
        """
        self._check_super_called()
        if not self.built:
            raise ValueError(f"stateless_call: layer '{self.name}' ({type(self).__name__}) "
                             "is not built yet. Build it first by calling it on some data.")
        own_t, own_nt = self._variable_groups()
        for label, given, own in (("trainable_variables", trainable_variables, own_t),
                                  ("non_trainable_variables", non_trainable_variables, own_nt)):
            if len(given) != len(own):
                raise ValueError(
                    f"stateless_call: `{label}` must match {type(self).__name__}"
                    f"('{self.name}').{label} one to one: received {len(given)} values, "
                    f"expected {len(own)}")
        mapping = [(v, _value_for(v, x)) for v, x in
                   zip(own_t + own_nt, list(trainable_variables) + list(non_trainable_variables))]
        saved_losses = [(layer, list(layer._losses)) for layer in self._all_layers()]
        previous_context = cc.get_call_context()
        try:
            with scopes.StatelessScope(mapping) as scope:
                self._clear_losses()
                context = cc.CallContext(entry_layer=self)
                if "training" in kwargs and not self._call_has_training_arg:
                    context.set_value("training", kwargs.pop("training"))
                elif "training" in kwargs:
                    context.set_value("training", kwargs["training"])
                cc.set_call_context(context)
                outputs = self._run_call(self.call, args, kwargs)
                if type(outputs) is not Tensor:
                    outputs = tree.map_structure(_variable_to_value, outputs)
                losses = self.losses if return_losses else None
            new_nt = [scope.get_current_value(v) for v in own_nt]
        finally:
            cc.set_call_context(previous_context)
            for layer, losses_before in saved_losses:
                layer._losses[:] = losses_before
        if return_losses:
            return outputs, new_nt, losses
        return outputs, new_nt

    # -- symbolic graph ---------------------------------------------------------------------------
    @property
    def input(self):
        """The input tensor(s) of the first symbolic call."""
        return self._node_attribute("input_tensors", "input")

    @property
    def output(self):
        """The output tensor(s) of the first symbolic call."""
        return self._node_attribute("output_tensors", "output")

    def _node_attribute(self, attr, label):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic "
                                 f"inputs and thus has no defined {label}.")
        values = getattr(self._inbound_nodes[0], attr)
        return values[0] if len(values) == 1 else values

    # -- config -----------------------------------------------------------------------------------
    def get_config(self):
        self._check_super_called()
        base = {"name": self.name, "trainable": self.trainable,
                "dtype": dp.serialize(self.dtype_policy)}
        if self.activity_regularizer is not None:
            from graphkit import regularizers
            base["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if _overrides(self, "get_config"):
            return base  # called as super().get_config() by a subclass that adds its own
        return auto_config.config_for(self, base)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = dp.get(config["dtype"]).name
        try:
            return cls(**config)
        except Exception as e:
            raise TypeError(f"Error when deserializing class '{cls.__name__}' using "
                            f"config={config}: {type(e).__name__}: {e}") from e

    # -- misc -------------------------------------------------------------------------------------
    def _check_super_called(self):
        if self.__dict__.get("_lock", True):
            raise RuntimeError(f"In layer '{type(self).__name__}', you forgot to call "
                               "`super().__init__()` as the first statement of `__init__()`.")

    def _name_scope(self):
        return _LayerNameScope(self)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# -- helpers --------------------------------------------------------------------------------------

class _LayerNameScope:
    """The layer's name scope, opened once even when build() runs inside __call__'s scope."""

    __slots__ = ("layer", "stack")

    def __init__(self, layer):
        self.layer = layer
        self.stack = None

    def __enter__(self):
        d = self.layer.__dict__
        if not d.get("_scope_open", False):
            self.stack = naming._stack()
            self.stack.append(self.layer.name)
            d["_scope_open"] = True
        return self

    def __exit__(self, *exc):
        if self.stack is not None:
            self.layer.__dict__["_scope_open"] = False
            self.stack.pop()
        return False


def _wrap_build(obj):
    original = obj.build

    def build(*args, **kwargs):
        with obj._name_scope():
            obj._path = naming.current_path()
            original(*args, **kwargs)
        try:
            obj._build_shapes_dict = dict(
                inspect.signature(original).bind(*args, **kwargs).arguments)
        except TypeError:
            obj._build_shapes_dict = None
        obj.built = True

    build.__wrapped__ = original
    build.__name__ = getattr(original, "__name__", "build")
    obj.__dict__["build"] = build


def _overrides(layer, method):
    """Whether `layer`'s class overrides the base Layer's `method`."""
    return getattr(type(layer), method) is not getattr(Layer, method)


def _unique(values):
    """`values` without repeats (by identity), in first-occurrence order."""
    out, seen = [], set()
    _extend_unique(out, seen, values)
    return out


def _extend_unique(out, seen, values):
    for v in values:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)


def _standardize_weight_shape(shape, layer, name):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"Layer '{layer.name}': add_weight(name={name!r}) expects a shape "
                         f"tuple, received shape={shape!r}") from None
    if any(d is None for d in shape):
        raise ValueError(f"Layer '{layer.name}': add_weight(name={name!r}) needs a fully "
                         f"defined shape (no None), received shape={shape}")
    return tuple(int(d) for d in shape)


def _std_dtype(dtype):
    from graphkit import dtypes
    return dtypes.standardize_dtype(dtype)


def _get_initializer(initializer):
    if is_value(initializer) or isinstance(initializer, (np.ndarray, Variable)):
        return initializer
    from graphkit import initializers
    return initializers.get(initializer)


def _get_regularizer(regularizer):
    if regularizer is None:
        return None
    from graphkit import regularizers
    return regularizers.get(regularizer)


def _get_constraint(constraint):
    if constraint is None:
        return None
    from graphkit import constraints
    return constraints.get(constraint)


def _is_seed_generator(x):
    cls = type(x)
    if cls.__name__ != "SeedGenerator" and not any(
            c.__name__ == "SeedGenerator" for c in cls.__mro__):
        return False
    return hasattr(x, "state")


def _is_metric(x):
    return any(c.__name__ == "Metric" and c.__module__.startswith("graphkit.metrics")
               for c in type(x).__mro__)


# How many times a layer's `trainable` was set: a compiled step bound to a list of trainable
# variables (trainers/trainer.py, _BoundStep) is only valid while this has not changed.
TRAINABLE_CHANGES = [0]


def get_keras_mask(x):
    return getattr(x, "_keras_mask", None)


def set_keras_mask(x, mask):
    try:
        x._keras_mask = mask
    except AttributeError:
        pass  # a value kind without a mask slot


_TRAINING_ONLY = frozenset(("training",))


def _no_masks_in_or_out(layer, x, defaults):
    """Whether `layer(x)` involves no Keras masks: none on `x` (a Tensor, or a list or tuple
    of them), no `mask` argument to fill in, and the default compute_mask (which passes
    none on)."""
    if "mask" in defaults or type(layer).compute_mask is not Layer.compute_mask:
        return False
    if type(x) is Tensor:
        return x._keras_mask is None
    for t in x:
        if t._keras_mask is not None:
            return False
    return True


def _eager_input(x, layer):
    """Whether `layer(x)` can take the eager fast path: `x` is an eager Tensor, or a list or
    tuple of them, that the layer would not cast."""
    tx = type(x)
    if tx is Tensor:
        return _needs_no_cast(x, layer)
    if (tx is list or tx is tuple) and x:
        for t in x:
            if type(t) is not Tensor or not _needs_no_cast(t, layer):
                return False
        return True
    return False


def _needs_no_cast(x, layer):
    dtype = x.dtype
    return dtype == layer.input_dtype or not layer.autocast or "float" not in dtype


def _value_for(variable, x):
    """`convert_to_tensor(x, dtype=variable.dtype)`; a Tensor of that dtype is returned as it
    is without looking up dtype names (stateless_call maps every variable on every step)."""
    if type(x) is Tensor and x._array.dtype == variable._value._array.dtype:
        return x
    from graphkit import ops
    return ops.convert_to_tensor(x, dtype=variable.dtype)


def _variable_to_value(x):
    return x.value if isinstance(x, Variable) else x


