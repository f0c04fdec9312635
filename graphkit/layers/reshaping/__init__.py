"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector."""
from graphkit.layers.reshaping.flatten import Flatten
from graphkit.layers.reshaping.permute import Permute
from graphkit.layers.reshaping.repeat_vector import RepeatVector
from graphkit.layers.reshaping.reshape import Reshape
from graphkit.layers.reshaping.up_sampling2d import UpSampling2D
from graphkit.layers.reshaping.zero_padding2d import ZeroPadding2D
