import pytest

import graphkit as gk
from graphkit import saving


class _WithConfig:
    def __init__(self, value=1):
        self.value = value

    def get_config(self):
        return {"value": self.value}


def test_register_class_under_package_and_class_name():
    cls = saving.register_keras_serializable(package="MyPkg")(type("Scaler", (_WithConfig,), {}))
    assert saving.get_registered_name(cls) == "MyPkg>Scaler"
    assert saving.get_registered_object("MyPkg>Scaler") is cls
    assert saving.get_custom_objects()["MyPkg>Scaler"] is cls


def test_default_package_and_explicit_name():
    @saving.register_keras_serializable(name="shift_by_one")
    def shift(x):
        return x + 1

    assert saving.get_registered_name(shift) == "Custom>shift_by_one"
    assert saving.get_registered_object("Custom>shift_by_one") is shift
    assert saving.get_registered_object("Custom>shift") is None


def test_unregistered_object_name_falls_back_to_its_own_name():
    def helper(x):
        return x
    assert saving.get_registered_name(helper) == "helper"
    assert saving.get_registered_name(_WithConfig) == "_WithConfig"
    assert saving.get_registered_object("helper") is None


def test_class_without_get_config_cannot_be_registered():
    class NoConfig:
        pass
    with pytest.raises(ValueError, match="NoConfig.*get_config"):
        saving.register_keras_serializable()(NoConfig)


@pytest.mark.parametrize("package", ["", "a>b", 3])
def test_bad_package_is_rejected(package):
    with pytest.raises(ValueError, match="package"):
        saving.register_keras_serializable(package=package)


def test_custom_object_scope_nests_and_unwinds():
    first, second = object(), object()
    assert saving.get_registered_object("Thing") is None
    with saving.custom_object_scope({"Thing": first}):
        assert saving.get_registered_object("Thing") is first
        with saving.CustomObjectScope({"Thing": second}):
            assert saving.get_registered_object("Thing") is second
        assert saving.get_registered_object("Thing") is first
    assert saving.get_registered_object("Thing") is None


def test_lookup_order_scope_then_registry_then_custom_objects_then_module_objects():
    registered = saving.register_keras_serializable(package="P", name="X")(
        type("X", (_WithConfig,), {}))
    scoped, custom, module = object(), object(), object()
    assert saving.get_registered_object("P>X", custom_objects={"P>X": custom}) is registered
    with saving.custom_object_scope({"P>X": scoped}):
        assert saving.get_registered_object("P>X") is scoped
    assert saving.get_registered_object("Y", custom_objects={"Y": custom},
                                        module_objects={"Y": module}) is custom
    assert saving.get_registered_object("Y", module_objects={"Y": module}) is module


def test_scope_rejects_a_non_dict():
    with pytest.raises(TypeError, match="CustomObjectScope"):
        saving.CustomObjectScope(["not", "a", "dict"])


def test_registered_layer_is_found_by_models_serialization():
    @saving.register_keras_serializable(package="Demo")
    class Doubler(gk.layers.Layer):
        def call(self, x):
            return x * 2.0

    from graphkit.models.serialization import find_class
    assert find_class("Doubler", registered_name="Demo>Doubler") is Doubler
