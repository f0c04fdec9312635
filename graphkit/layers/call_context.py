"""The call context: what an outer `Layer.__call__` tells the layers it calls.

The outermost `__call__` opens a context (and clears the losses of its layer tree); nested
calls read the context-propagated arguments (`training`) from it, so a model called with
`training=True` runs its Dropout and BatchNormalization in training mode without passing the
flag by hand. The context is per thread.
"""
import threading

_local = threading.local()


class CallContext:
    def __init__(self, entry_layer):
        self.entry_layer = entry_layer
        self.values = {}

    def get_value(self, name, default=None):
        return self.values.get(name, default)

    def set_value(self, name, value):
        self.values[name] = value

    @property
    def training(self):
        return self.values.get("training")


def get_call_context():
    return getattr(_local, "context", None)


def set_call_context(context):
    _local.context = context
