"""The model registry: names are unique, unknown names are refused with the close matches."""

from __future__ import annotations

import pytest

from histomammo.models import _registry, create_model, list_models, register_model


def test_register_twice_is_an_error(monkeypatch):
    monkeypatch.setattr(_registry, "_REGISTRY", {})

    def tiny_model(**kwargs):
        return kwargs

    register_model(tiny_model)
    assert register_model(tiny_model) is tiny_model  # the same builder again is harmless

    def other():
        return None

    other.__name__ = "tiny_model"
    with pytest.raises(ValueError, match="already registered"):
        register_model(other)


def test_create_and_list(monkeypatch):
    monkeypatch.setattr(_registry, "_REGISTRY", {})

    @register_model
    def tiny_net(num_classes=2):
        return {"num_classes": num_classes}

    assert "tiny_net" in list_models("tiny_*")
    assert create_model("tiny_net", num_classes=5) == {"num_classes": 5}
    with pytest.raises(ValueError, match="unknown model 'tiny_nett'"):
        create_model("tiny_nett")
