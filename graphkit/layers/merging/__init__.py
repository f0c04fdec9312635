"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot
and their functional forms."""
from graphkit.layers.merging.add import Add, add
from graphkit.layers.merging.average import Average, average
from graphkit.layers.merging.concatenate import Concatenate, concatenate
from graphkit.layers.merging.dot import Dot, dot
from graphkit.layers.merging.maximum import Maximum, maximum
from graphkit.layers.merging.minimum import Minimum, minimum
from graphkit.layers.merging.multiply import Multiply, multiply
from graphkit.layers.merging.subtract import Subtract, subtract
