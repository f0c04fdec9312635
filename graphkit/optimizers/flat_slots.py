"""`FlatSlots`: an eager optimizer's variables and slots laid out in one buffer per role.

An eager (NumPy) update costs a dozen NumPy calls per variable; for a small model those
calls, not the arithmetic, are the update's time (W4: ten variables, 130 calls). When every
variable of the update has one float dtype, its weights, each of its slots and its
gradients can live in one contiguous buffer per role, each variable's array being a view of
its part. The update is then a dozen calls over the whole model (the multi-tensor update
of PyTorch's `foreach` optimizers), elementwise the very same arithmetic, so the very same
bits.

The views are handed to the variables once (their values become Tensors over them); each
later step checks that every variable still holds its view, and that the step donated all
of them (may overwrite them in place). A variable that was given another value meanwhile
(`assign`, `set_weights`) makes the next step lay the buffers out again, with a copy.
"""
import numpy as np

from graphkit.core.tensor import Tensor, _new_tensor

# The layout saves about a dozen NumPy calls per variable (some 10 us) and costs one copy
# of the gradients per step: it pays while the variables average fewer elements than this
# (W4's ten average 11 thousand; W3's six, 110 thousand, gain nothing).
MAX_MEAN_SIZE = 1 << 15


class FlatSlots:
    """Roles (weights, then each slot) of some variables, one flat buffer per role.

    `owners` holds, per role, the Variable of each updated variable in that role (the
    variables themselves, then their slots), and `arrays` their current arrays: the buffers
    start with copies of them.
    """

    def __init__(self, owners, arrays):
        self.variables = tuple(owners[0])  # held, so that their ids stay theirs
        first = arrays[0]
        self.dtype = first[0].dtype
        self.sizes = [a.size for a in first]
        total = sum(self.sizes)
        self.flats, self.views = [], []
        for role in arrays:
            flat = np.empty(total, self.dtype)
            views = self._split(flat, [a.shape for a in first])
            for view, array in zip(views, role):
                view[...] = array
            self.flats.append(flat)
            self.views.append(views)
        # (owner, view) per variable and role, in the order the views are handed out
        self._owned = [(role[i], views[i]) for i in range(len(self.variables))
                       for role, views in zip(owners, self.views)]
        self.gradients = np.empty(total, self.dtype)
        self.scratch = (np.empty(total, self.dtype), np.empty(total, self.dtype))

    def _split(self, flat, shapes):
        views, start = [], 0
        for shape, size in zip(shapes, self.sizes):
            views.append(flat[start:start + size].reshape(shape))
            start += size
        return views

    @staticmethod
    def layable(arrays, gradients):
        """Whether these arrays (per role) and gradients fit one layout (one float dtype)
        that pays (variables small on average)."""
        dtype = arrays[0][0].dtype
        if dtype.kind != "f" or sum(a.size for a in arrays[0]) > MAX_MEAN_SIZE * len(arrays[0]):
            return False
        for role in arrays:
            for a in role:
                if a.dtype is not dtype and a.dtype != dtype:
                    return False
        for role in arrays[1:]:
            for a, w in zip(role, arrays[0]):
                if a.shape != w.shape:
                    return False
        return all(g.shape == w.shape for g, w in zip(gradients, arrays[0]))

    def holds(self, variables, donated):
        """Whether `variables` are this layout's and each of their Variables (weights and
        slots) still reads as its view, every view donated (`donated`: the step's
        {id: array} of arrays that may be overwritten in place)."""
        mine = self.variables
        if len(variables) != len(mine):
            return False
        for v, m in zip(variables, mine):
            if v is not m:
                return False
        for owner, view in self._owned:
            value = owner.value
            if type(value) is not Tensor or value._array is not view \
                    or donated.get(id(view)) is not view:
                return False
        return True

    def hand_out_views(self):
        """Each Variable takes its view as its value: later steps update it in place."""
        for owner, view in self._owned:
            owner.assign(_new_tensor(view))

    def gather(self, gradients):
        """The gradients, in the layout's order, as one flat array (of the layout's dtype)."""
        np.concatenate(gradients, axis=None, out=self.gradients, casting="same_kind")
        return self.gradients
