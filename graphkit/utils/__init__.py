"""`gk.utils`: helpers. A flat list of imports; each helper lives in its own module."""
from graphkit.utils.random_seed import set_random_seed
from graphkit.utils.progbar import Progbar
from graphkit.utils.py_dataset import PyDataset
from graphkit.utils.plot import model_to_dot, model_to_graph, plot_model
