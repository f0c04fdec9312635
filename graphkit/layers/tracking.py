"""Automatic tracking of a layer's state: Variables, sublayers, SeedGenerators and metrics
assigned as attributes, directly or inside lists, dicts and tuples.

A `Tracker` owns one list ("store") per kind of object, in assignment order. Lists and dicts
assigned to a tracked object are wrapped (`TrackedList`, `TrackedDict`, still a list and a
dict) so that later `append`s and item assignments are tracked too.
"""


# Bumped whenever any tracker's stores change: a cached walk of a layer tree (its variables,
# its sublayers) is current while this count is the one it was made at.
CHANGES = [0]


class Tracker:
    def __init__(self, config, exclusions=None):
        # config: store name -> (predicate, list that receives the matching objects)
        self.config = config
        self.exclusions = exclusions or {}
        self.stored_ids = {name: set() for name in config}

    def track(self, value):
        """Record `value` (or its contents) and return what the attribute should hold."""
        for name, (predicate, _) in self.config.items():
            if predicate(value):
                self.add_to_store(name, value)
                return value
        if isinstance(value, TrackedList) or isinstance(value, TrackedDict):
            value.attach(self)
            return value
        if isinstance(value, list):
            return TrackedList(value, self)
        if isinstance(value, dict):
            return TrackedDict(value, self)
        if isinstance(value, tuple):
            items = [self.track(v) for v in value]
            if hasattr(type(value), "_fields"):
                return type(value)(*items)
            return tuple(items)
        return value

    def add_to_store(self, name, value):
        for excluded_by in self.exclusions.get(name, ()):
            if id(value) in self.stored_ids[excluded_by]:
                return
        if id(value) not in self.stored_ids[name]:
            self.config[name][1].append(value)
            self.stored_ids[name].add(id(value))
            CHANGES[0] += 1

    def tracks(self, value):
        return any(id(value) in ids for ids in self.stored_ids.values())

    def untrack(self, value):
        for name, (_, store) in self.config.items():
            if id(value) in self.stored_ids[name]:
                store[:] = [v for v in store if v is not value]
                self.stored_ids[name].discard(id(value))
                CHANGES[0] += 1
        for child in _children(value):
            self.untrack(child)


def _children(value):
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return []


class TrackedList(list):
    """A list whose additions are tracked by the owning layers' trackers."""

    def __init__(self, values=(), tracker=None):
        self._trackers = []
        super().__init__()
        if tracker is not None:
            self._trackers.append(tracker)
        super().extend(self._track(v) for v in values)

    def attach(self, tracker):
        if all(t is not tracker for t in self._trackers):
            self._trackers.append(tracker)
            for i, v in enumerate(self):
                super().__setitem__(i, tracker.track(v))

    def _track(self, value):
        for t in self._trackers:
            value = t.track(value)
        return value

    def _untrack(self, value):
        for t in self._trackers:
            t.untrack(value)

    def append(self, value):
        super().append(self._track(value))

    def insert(self, index, value):
        super().insert(index, self._track(value))

    def extend(self, values):
        super().extend(self._track(v) for v in values)

    def __iadd__(self, values):
        self.extend(values)
        return self

    def __setitem__(self, index, value):
        old = self[index]
        if isinstance(index, slice):
            value = [self._track(v) for v in value]
            for v in old:
                self._untrack(v)
        else:
            value = self._track(value)
            self._untrack(old)
        super().__setitem__(index, value)

    def __delitem__(self, index):
        old = self[index]
        for v in (old if isinstance(index, slice) else [old]):
            self._untrack(v)
        super().__delitem__(index)

    def pop(self, index=-1):
        value = super().pop(index)
        self._untrack(value)
        return value

    def remove(self, value):
        for i, v in enumerate(self):
            if v is value:  # identity: tensors' == is elementwise
                del self[i]
                return
        raise ValueError("TrackedList.remove(x): x not in list")

    def clear(self):
        for v in self:
            self._untrack(v)
        super().clear()


class TrackedDict(dict):
    """A dict whose new values are tracked by the owning layers' trackers."""

    def __init__(self, values=None, tracker=None):
        self._trackers = [] if tracker is None else [tracker]
        super().__init__()
        for k, v in (values or {}).items():
            super().__setitem__(k, self._track(v))

    def attach(self, tracker):
        if all(t is not tracker for t in self._trackers):
            self._trackers.append(tracker)
            for k, v in list(self.items()):
                super().__setitem__(k, tracker.track(v))

    def _track(self, value):
        for t in self._trackers:
            value = t.track(value)
        return value

    def __setitem__(self, key, value):
        if key in self:
            for t in self._trackers:
                t.untrack(self[key])
        super().__setitem__(key, self._track(value))

    def __delitem__(self, key):
        for t in self._trackers:
            t.untrack(self[key])
        super().__delitem__(key)

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key, *default):
        if key in self:
            for t in self._trackers:
                t.untrack(self[key])
        return super().pop(key, *default)

    def clear(self):
        for v in self.values():
            for t in self._trackers:
                t.untrack(v)
        super().clear()
