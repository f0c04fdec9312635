"""`gk.layers`: the Layer base class, InputSpec, Input/InputLayer and the built-in layers.

Names are imported on first use (as in `graphkit/__init__.py`), so importing one module of
the package, such as `graphkit.layers.input_spec`, does not import every layer, and the
base class never depends on the layers built on it.
"""
import importlib

# name -> module that defines it
_NAMES = {
    "Layer": "graphkit.layers.layer",
    "InputSpec": "graphkit.layers.input_spec",
    "Input": "graphkit.layers.core.input_layer",
    "InputLayer": "graphkit.layers.core.input_layer",
    # core
    "Activation": "graphkit.layers.core.activation",
    "Dense": "graphkit.layers.core.dense",
    "EinsumDense": "graphkit.layers.core.einsum_dense",
    "Embedding": "graphkit.layers.core.embedding",
    "ReversibleEmbedding": "graphkit.layers.core.reversible_embedding",
    "Identity": "graphkit.layers.core.identity",
    "Lambda": "graphkit.layers.core.lambda_layer",
    "Masking": "graphkit.layers.core.masking",
    # activations
    "ReLU": "graphkit.layers.activations.relu",
    "LeakyReLU": "graphkit.layers.activations.leaky_relu",
    "ELU": "graphkit.layers.activations.elu",
    "PReLU": "graphkit.layers.activations.prelu",
    "Softmax": "graphkit.layers.activations.softmax",
    # regularization
    "Dropout": "graphkit.layers.regularization.dropout",
    "ActivityRegularization": "graphkit.layers.regularization.activity_regularization",
    "AlphaDropout": "graphkit.layers.regularization.alpha_dropout",
    "GaussianNoise": "graphkit.layers.regularization.gaussian_noise",
    "GaussianDropout": "graphkit.layers.regularization.gaussian_noise",
    "SpatialDropout1D": "graphkit.layers.regularization.spatial_dropout",
    "SpatialDropout2D": "graphkit.layers.regularization.spatial_dropout",
    "SpatialDropout3D": "graphkit.layers.regularization.spatial_dropout",
    # normalization
    "BatchNormalization": "graphkit.layers.normalization.batch_normalization",
    "LayerNormalization": "graphkit.layers.normalization.layer_normalization",
    "GroupNormalization": "graphkit.layers.normalization.group_normalization",
    "UnitNormalization": "graphkit.layers.normalization.unit_normalization",
    "RMSNormalization": "graphkit.layers.normalization.rms_normalization",
    # reshaping
    "Flatten": "graphkit.layers.reshaping.flatten",
    "Reshape": "graphkit.layers.reshaping.reshape",
    "Permute": "graphkit.layers.reshaping.permute",
    "RepeatVector": "graphkit.layers.reshaping.repeat_vector",
    # merging (classes and Keras's functional forms)
    "Add": "graphkit.layers.merging.add",
    "add": "graphkit.layers.merging.add",
    "Subtract": "graphkit.layers.merging.subtract",
    "subtract": "graphkit.layers.merging.subtract",
    "Multiply": "graphkit.layers.merging.multiply",
    "multiply": "graphkit.layers.merging.multiply",
    "Average": "graphkit.layers.merging.average",
    "average": "graphkit.layers.merging.average",
    "Concatenate": "graphkit.layers.merging.concatenate",
    "concatenate": "graphkit.layers.merging.concatenate",
    "Maximum": "graphkit.layers.merging.maximum",
    "maximum": "graphkit.layers.merging.maximum",
    "Minimum": "graphkit.layers.merging.minimum",
    "minimum": "graphkit.layers.merging.minimum",
    "Dot": "graphkit.layers.merging.dot",
    "dot": "graphkit.layers.merging.dot",
    # pooling
    "MaxPooling1D": "graphkit.layers.pooling.windowed_pooling",
    "MaxPooling2D": "graphkit.layers.pooling.windowed_pooling",
    "AveragePooling1D": "graphkit.layers.pooling.windowed_pooling",
    "AveragePooling2D": "graphkit.layers.pooling.windowed_pooling",
    "MaxPooling3D": "graphkit.layers.pooling.windowed_pooling",
    "AveragePooling3D": "graphkit.layers.pooling.windowed_pooling",
    "GlobalAveragePooling1D": "graphkit.layers.pooling.global_pooling",
    "GlobalAveragePooling2D": "graphkit.layers.pooling.global_pooling",
    "GlobalMaxPooling1D": "graphkit.layers.pooling.global_pooling",
    "GlobalMaxPooling2D": "graphkit.layers.pooling.global_pooling",
    "GlobalAveragePooling3D": "graphkit.layers.pooling.global_pooling",
    "GlobalMaxPooling3D": "graphkit.layers.pooling.global_pooling",
    "AdaptiveAveragePooling1D": "graphkit.layers.pooling.adaptive_pooling",
    "AdaptiveAveragePooling2D": "graphkit.layers.pooling.adaptive_pooling",
    "AdaptiveAveragePooling3D": "graphkit.layers.pooling.adaptive_pooling",
    "AdaptiveMaxPooling1D": "graphkit.layers.pooling.adaptive_pooling",
    "AdaptiveMaxPooling2D": "graphkit.layers.pooling.adaptive_pooling",
    "AdaptiveMaxPooling3D": "graphkit.layers.pooling.adaptive_pooling",
    # convolutional
    "Conv1D": "graphkit.layers.convolutional.conv",
    "Conv2D": "graphkit.layers.convolutional.conv",
    "Conv3D": "graphkit.layers.convolutional.conv",
    "Conv1DTranspose": "graphkit.layers.convolutional.conv_transpose",
    "Conv2DTranspose": "graphkit.layers.convolutional.conv_transpose",
    "Conv3DTranspose": "graphkit.layers.convolutional.conv_transpose",
    "DepthwiseConv1D": "graphkit.layers.convolutional.depthwise_conv",
    "DepthwiseConv2D": "graphkit.layers.convolutional.depthwise_conv",
    "SeparableConv1D": "graphkit.layers.convolutional.separable_conv",
    "SeparableConv2D": "graphkit.layers.convolutional.separable_conv",
    # reshaping (spatial)
    "ZeroPadding1D": "graphkit.layers.reshaping.zero_padding",
    "ZeroPadding2D": "graphkit.layers.reshaping.zero_padding",
    "ZeroPadding3D": "graphkit.layers.reshaping.zero_padding",
    "Cropping1D": "graphkit.layers.reshaping.cropping",
    "Cropping2D": "graphkit.layers.reshaping.cropping",
    "Cropping3D": "graphkit.layers.reshaping.cropping",
    "UpSampling1D": "graphkit.layers.reshaping.up_sampling",
    "UpSampling2D": "graphkit.layers.reshaping.up_sampling",
    "UpSampling3D": "graphkit.layers.reshaping.up_sampling",
    # recurrent
    "SimpleRNNCell": "graphkit.layers.rnn.cells",
    "LSTMCell": "graphkit.layers.rnn.cells",
    "GRUCell": "graphkit.layers.rnn.cells",
    "SimpleRNN": "graphkit.layers.rnn.recurrent",
    "LSTM": "graphkit.layers.rnn.recurrent",
    "GRU": "graphkit.layers.rnn.recurrent",
    "ConvLSTM1D": "graphkit.layers.rnn.conv_lstm",
    "ConvLSTM2D": "graphkit.layers.rnn.conv_lstm",
    "ConvLSTM3D": "graphkit.layers.rnn.conv_lstm",
    "Bidirectional": "graphkit.layers.rnn.bidirectional",
    "RNN": "graphkit.layers.rnn.rnn",
    "StackedRNNCells": "graphkit.layers.rnn.rnn",
    "TimeDistributed": "graphkit.layers.rnn.time_distributed",
    # preprocessing
    "Normalization": "graphkit.layers.preprocessing.normalization",
    "Rescaling": "graphkit.layers.preprocessing.rescaling",
    "CategoryEncoding": "graphkit.layers.preprocessing.category_encoding",
    "Discretization": "graphkit.layers.preprocessing.discretization",
    "IntegerLookup": "graphkit.layers.preprocessing.lookup",
    "StringLookup": "graphkit.layers.preprocessing.lookup",
    "Hashing": "graphkit.layers.preprocessing.hashing",
    "CenterCrop": "graphkit.layers.preprocessing.center_crop",
    "Resizing": "graphkit.layers.preprocessing.resizing",
    "RandomFlip": "graphkit.layers.preprocessing.random_flip",
    "RandomCrop": "graphkit.layers.preprocessing.random_crop",
    "RandomContrast": "graphkit.layers.preprocessing.random_contrast",
    "RandomBrightness": "graphkit.layers.preprocessing.random_brightness",
    "RandomTranslation": "graphkit.layers.preprocessing.random_affine",
    "RandomZoom": "graphkit.layers.preprocessing.random_affine",
    "RandomRotation": "graphkit.layers.preprocessing.random_affine",
    "RandomGrayscale": "graphkit.layers.preprocessing.random_grayscale",
    "RandomInvert": "graphkit.layers.preprocessing.random_invert",
    "Solarization": "graphkit.layers.preprocessing.solarization",
    "RandomPosterization": "graphkit.layers.preprocessing.random_posterization",
    "RandomColorDegeneration": "graphkit.layers.preprocessing.random_color_degeneration",
    "RandomSaturation": "graphkit.layers.preprocessing.random_saturation",
    "RandomHue": "graphkit.layers.preprocessing.random_hue",
    "RandomSharpness": "graphkit.layers.preprocessing.random_sharpness",
    "RandomErasing": "graphkit.layers.preprocessing.random_erasing",
    "MixUp": "graphkit.layers.preprocessing.mix_up",
    "CutMix": "graphkit.layers.preprocessing.mix_up",
    # attention
    "MultiHeadAttention": "graphkit.layers.attention.multi_head_attention",
    "Attention": "graphkit.layers.attention.attention",
    "AdditiveAttention": "graphkit.layers.attention.additive_attention",
    "GroupQueryAttention": "graphkit.layers.attention.grouped_query_attention",
    # wrappers
    "Wrapper": "graphkit.layers.core.wrapper",
    "SpectralNormalization": "graphkit.layers.normalization.spectral_normalization",
}

# Keras's second names for the same classes (`layers.MaxPool2D is layers.MaxPooling2D`).
ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "Convolution1DTranspose": "Conv1DTranspose", "Convolution2DTranspose": "Conv2DTranspose",
    "Convolution3DTranspose": "Conv3DTranspose",
    "SeparableConvolution1D": "SeparableConv1D", "SeparableConvolution2D": "SeparableConv2D",
    "MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D", "MaxPool3D": "MaxPooling3D",
    "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D",
    "AvgPool3D": "AveragePooling3D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "GlobalMaxPool3D": "GlobalMaxPooling3D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalAvgPool3D": "GlobalAveragePooling3D",
}

__all__ = sorted(set(_NAMES) | set(ALIASES))


def __getattr__(name):
    canonical = ALIASES.get(name, name)
    module = _NAMES.get(canonical)
    if module is None:
        raise AttributeError(f"module 'graphkit.layers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), canonical)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | set(ALIASES))
