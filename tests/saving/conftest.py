import pytest

from graphkit.saving import registration


@pytest.fixture(autouse=True)
def _restore_registry():
    """Registrations made by a test do not leak into the next one."""
    objects = dict(registration._REGISTERED_OBJECTS)
    names = dict(registration._REGISTERED_NAMES)
    yield
    registration._REGISTERED_OBJECTS.clear()
    registration._REGISTERED_OBJECTS.update(objects)
    registration._REGISTERED_NAMES.clear()
    registration._REGISTERED_NAMES.update(names)
