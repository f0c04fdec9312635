"""Pooling layers: windowed max/average pooling and global pooling."""
from graphkit.layers.pooling.global_pooling import (GlobalAveragePooling1D,
                                                     GlobalAveragePooling2D,
                                                     GlobalMaxPooling1D, GlobalMaxPooling2D)
from graphkit.layers.pooling.windowed_pooling import (AveragePooling1D, AveragePooling2D,
                                                       MaxPooling1D, MaxPooling2D)
