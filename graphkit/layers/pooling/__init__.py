"""Pooling layers: windowed, global and adaptive max/average pooling."""
from graphkit.layers.pooling.adaptive_pooling import (AdaptiveAveragePooling1D,
                                                       AdaptiveAveragePooling2D,
                                                       AdaptiveAveragePooling3D,
                                                       AdaptiveMaxPooling1D, AdaptiveMaxPooling2D,
                                                       AdaptiveMaxPooling3D)
from graphkit.layers.pooling.global_pooling import (GlobalAveragePooling1D,
                                                     GlobalAveragePooling2D,
                                                     GlobalMaxPooling1D, GlobalMaxPooling2D)
from graphkit.layers.pooling.windowed_pooling import (AveragePooling1D, AveragePooling2D,
                                                       MaxPooling1D, MaxPooling2D)
