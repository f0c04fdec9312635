"""`gk.ops`: every op, in eager, symbolic and traced modes, with one definition each."""
from graphkit.ops.convert import convert_to_tensor
from graphkit.ops.creation import full, ones, ones_like, zeros, zeros_like
from graphkit.ops.elementwise import (add, cast, divide, exp, log, multiply, negative,
                                      stop_gradient, subtract)
from graphkit.ops.layout import broadcast_to, reshape
from graphkit.ops.primitive import PRIMITIVES, Primitive, bind
from graphkit.ops.reduction import sum
