"""Recurrent layers: RNN (of any cell), StackedRNNCells, SimpleRNN, LSTM, GRU (and their
cells), ConvLSTM1D/2D/3D (and their ConvLSTMCell), Bidirectional."""
from graphkit.layers.rnn.bidirectional import Bidirectional
from graphkit.layers.rnn.cells import GRUCell, LSTMCell, SimpleRNNCell
from graphkit.layers.rnn.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, ConvLSTMCell
from graphkit.layers.rnn.recurrent import GRU, LSTM, SimpleRNN
from graphkit.layers.rnn.rnn import RNN, StackedRNNCells
