"""`gk.callbacks`: hooks into `fit`, `evaluate` and `predict`."""
from graphkit.callbacks.backup_and_restore import BackupAndRestore
from graphkit.callbacks.callback import Callback
from graphkit.callbacks.callback_list import CallbackList
from graphkit.callbacks.csv_logger import CSVLogger
from graphkit.callbacks.early_stopping import EarlyStopping
from graphkit.callbacks.history import History
from graphkit.callbacks.lambda_callback import LambdaCallback
from graphkit.callbacks.learning_rate_scheduler import LearningRateScheduler
from graphkit.callbacks.model_checkpoint import ModelCheckpoint
from graphkit.callbacks.progbar_logger import ProgbarLogger
from graphkit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from graphkit.callbacks.swap_ema_weights import SwapEMAWeights
from graphkit.callbacks.terminate_on_nan import TerminateOnNaN
