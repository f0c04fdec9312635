"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, and the spatial ones:
ZeroPadding, Cropping and UpSampling in 1, 2 and 3 dimensions."""
from graphkit.layers.reshaping.cropping import Cropping1D, Cropping2D, Cropping3D
from graphkit.layers.reshaping.flatten import Flatten
from graphkit.layers.reshaping.permute import Permute
from graphkit.layers.reshaping.repeat_vector import RepeatVector
from graphkit.layers.reshaping.reshape import Reshape
from graphkit.layers.reshaping.up_sampling import UpSampling1D, UpSampling2D, UpSampling3D
from graphkit.layers.reshaping.zero_padding import ZeroPadding1D, ZeroPadding2D, ZeroPadding3D
