"""`EinsumDense`: a dense layer whose contraction is any `input,kernel->output` einsum."""
import re

from graphkit import activations, constraints, initializers, ops, regularizers
from graphkit.layers.input_spec import InputSpec
from graphkit.layers import keras_options
from graphkit.layers.layer import Layer
from graphkit.layers.weight_options import weight_options_config

# `ab,bc->ac`, `...ab,bc->...ac` or `ab...,bc->ac...` (Keras accepts these three forms).
_EQUATION = re.compile(
    r"^(?P<in_left>\.\.\.)?(?P<inp>[a-zA-Z]+)(?P<in_right>\.\.\.)?,(?P<w>[a-zA-Z]+)->"
    r"(?P<out_left>\.\.\.)?(?P<out>[a-zA-Z]+)(?P<out_right>\.\.\.)?$")


class _EinsumPlan:
    """What an equation, a partial output shape and an input shape imply: the kernel and
    bias shapes and the full output shape."""

    def __init__(self, layer_name, equation, bias_axes, input_shape, partial_output_shape):
        self.where = f"EinsumDense '{layer_name}'"
        m = _EQUATION.match(equation.replace(" ", ""))
        if m is None or bool(m["in_left"]) != bool(m["out_left"]) or \
                bool(m["in_right"]) != bool(m["out_right"]) or (m["in_left"] and m["in_right"]):
            raise ValueError(
                f"{self.where}: invalid einsum equation {equation!r}. Equations must be in "
                "the form [X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")
        self.left = bool(m["in_left"])
        self.right = bool(m["in_right"])
        self.inp, self.w, self.out = m["inp"], m["w"], m["out"]
        input_shape = tuple(input_shape)
        self.elided = len(input_shape) - len(self.inp)
        self._check_rank(equation, input_shape)
        self.output_shape = self._full_output_shape(input_shape, tuple(partial_output_shape))
        self.kernel_shape = self._kernel_shape(input_shape)
        self.bias_shape = None if bias_axes is None else self._bias_shape(bias_axes)

    def _check_rank(self, equation, input_shape):
        ellipsis = self.left or self.right
        if self.elided < 0 or (not ellipsis and self.elided != 0):
            raise ValueError(
                f"{self.where}: the equation {equation!r} expects inputs of rank "
                f"{len(self.inp)}{' or more' if ellipsis else ''}. "
                f"Received: input_shape={input_shape}")

    def _input_axis(self, i):
        return i + self.elided if self.left else i

    def _full_output_shape(self, input_shape, partial):
        n_given = len(self.out) if self.left else len(self.out) - 1
        if len(partial) != n_given:
            raise ValueError(
                f"{self.where}: `output_shape` must have {n_given} entries for the output "
                f"spec {self.out!r} (the batch axis and the '...' axes are not included). "
                f"Received: output_shape={partial}")
        if self.left:
            full = list(input_shape[:self.elided]) + list(partial)
        else:
            full = [input_shape[0]] + list(partial) + list(input_shape[len(self.inp):])
        # Output axes shared with the input take the input's size (and must agree with it).
        for i, char in enumerate(self.out):
            j = self.inp.find(char)
            if j < 0:
                if char not in self.w:
                    raise ValueError(
                        f"{self.where}: output dimension {char!r} of {self.out!r} appears in "
                        f"neither the input spec {self.inp!r} nor the weight spec {self.w!r}")
                continue
            pos = i + self.elided if self.left else i
            in_dim = input_shape[self._input_axis(j)]
            if full[pos] is not None and in_dim is not None and full[pos] != in_dim:
                raise ValueError(
                    f"{self.where}: input shape and output shape do not match at shared "
                    f"dimension {char!r}: the input has {in_dim}, output_shape asks for "
                    f"{full[pos]}")
            if full[pos] is None:
                full[pos] = in_dim
        return tuple(full)

    def _size_of(self, char, input_shape):
        j = self.inp.find(char)
        if j >= 0:
            return input_shape[self._input_axis(j)]
        i = self.out.find(char)
        if i >= 0:
            return self.output_shape[i + self.elided if self.left else i]
        raise ValueError(
            f"{self.where}: weight dimension {char!r} appears in neither the input spec "
            f"{self.inp!r} nor the output spec {self.out!r}; the weight must be fully "
            "specified")

    def _kernel_shape(self, input_shape):
        shape = tuple(self._size_of(c, input_shape) for c in self.w)
        if None in shape:
            raise ValueError(
                f"{self.where}: the kernel shape {shape} (spec {self.w!r}) has unknown "
                "dimensions; give them in `output_shape` or in the input shape")
        return shape

    def fan_axes(self):
        """(input_axes, output_axes): the kernel axes that are input and output units, as
        Keras counts them (an axis in the output spec is an output one)."""
        output_axes = [i for i, c in enumerate(self.w) if c in self.out]
        return [i for i, c in enumerate(self.w) if c not in self.out], output_axes

    def _bias_shape(self, bias_axes):
        for char in bias_axes:
            if char not in self.out:
                raise ValueError(
                    f"{self.where}: bias dimension {char!r} was requested, but is not part "
                    f"of the output spec {self.out!r}")
        # Keras's layout: from the first bias axis to the end of the output spec, size 1 on
        # the axes that get no bias, plus one size-1 axis per trailing '...' axis.
        first = min(self.out.find(c) for c in bias_axes)
        offset = self.elided if self.left else 0
        shape = [self.output_shape[i + offset] if c in bias_axes else 1
                 for i, c in enumerate(self.out) if i >= first]
        if not self.left:
            shape += [1] * self.elided
        if None in shape:
            raise ValueError(
                f"{self.where}: the bias shape {tuple(shape)} has unknown dimensions")
        return tuple(shape)


class EinsumDense(Layer):
    """A layer computing `activation(einsum(equation, inputs, kernel) + bias)`.

    `output_shape` excludes the batch axis and the axes covered by `...`; `None` entries are
    taken from the input. `bias_axes` names the output axes the bias spans.
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        keras_options.take_default_options("EinsumDense", kwargs, keras_options.QUANTIZATION)
        super().__init__(**kwargs)
        if not isinstance(equation, str):
            raise TypeError(f"EinsumDense: `equation` must be a string, received {equation!r}")
        self.equation = equation
        if isinstance(output_shape, int):
            self.partial_output_shape = (output_shape,)
        else:
            self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def _plan(self, input_shape):
        return _EinsumPlan(self.name, self.equation, self.bias_axes, input_shape,
                           self.partial_output_shape)

    def build(self, input_shape):
        plan = self._plan(input_shape)
        self.full_output_shape = plan.output_shape
        self.kernel = self.add_weight(
            name="kernel", shape=plan.kernel_shape,
            initializer=_with_fan_axes(self.kernel_initializer, plan),
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
            trainable=True)
        if plan.bias_shape is not None:
            self.bias = self.add_weight(
                name="bias", shape=plan.bias_shape, initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                trainable=True)
        else:
            self.bias = None
        self.input_spec = InputSpec(ndim=len(input_shape))
        self.built = True

    def call(self, inputs, training=None):
        x = ops.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return self._plan(input_shape).output_shape

    def get_config(self):
        config = {
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            **weight_options_config(self, ("kernel", "bias")),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        }
        return {**super().get_config(), **config, **keras_options.QUANTIZATION}


def _with_fan_axes(initializer, plan):
    """As in Keras 3.15: a VarianceScaling initializer without fan axes gets the kernel's
    (so a kernel (in, heads, dim) has fans in and heads * dim, not conv-style ones). The
    copy keeps the concrete seed, so it draws what the original would."""
    if not isinstance(initializer, initializers.VarianceScaling) or (
            initializer.input_axes is not None and initializer.output_axes is not None):
        return initializer
    config = initializer.get_config()
    config["seed"] = initializer.seed
    config["input_axes"], config["output_axes"] = plan.fan_axes()
    return type(initializer).from_config(config)
