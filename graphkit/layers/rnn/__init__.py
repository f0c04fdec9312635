"""Recurrent layers: RNN (of any cell), StackedRNNCells, SimpleRNN, LSTM, GRU (and their
cells), Bidirectional."""
from graphkit.layers.rnn.bidirectional import Bidirectional
from graphkit.layers.rnn.cells import GRUCell, LSTMCell, SimpleRNNCell
from graphkit.layers.rnn.recurrent import GRU, LSTM, SimpleRNN
from graphkit.layers.rnn.rnn import RNN, StackedRNNCells
