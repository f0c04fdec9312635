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

# The layout saves about a dozen NumPy calls per variable (some 10 us) and costs one copy
# of the gradients per step: it pays while the variables average fewer elements than this
# (W4's ten average 11 thousand; W3's six, 110 thousand, gain nothing).
MAX_MEAN_SIZE = 1 << 15


class FlatSlots:
    """Roles (weights, then each slot) of `variables`, one flat buffer per role.

    `arrays` holds, per role, the current array of each variable: the buffers start with
    copies of them.
    """

    def __init__(self, variables, arrays):
        self.variables = tuple(variables)  # held, so that their ids stay theirs
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

    def holds(self, variables, arrays, donated):
        """Whether `variables` are this layout's, each holding its views, all donated."""
        if len(variables) != len(self.variables):
            return False
        for v, mine in zip(variables, self.variables):
            if v is not mine:
                return False
        for role, views in zip(arrays, self.views):
            for a, view in zip(role, views):
                if a is not view or donated.get(id(a)) is not a:
                    return False
        return True

    def gather(self, gradients):
        """The gradients, in the layout's order, as one flat array (of the layout's dtype)."""
        np.concatenate([g.reshape(-1) for g in gradients], out=self.gradients,
                       casting="same_kind")
        return self.gradients
