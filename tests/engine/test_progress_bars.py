"""The fit's epoch bars stay: a plain terminal run leaves one finished line per epoch, and a
notebook's widget bar is re-displayed when it closes, so a saved notebook shows it finished."""

from __future__ import annotations

import io
import re
import sys
import types

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from histomammo.engine import Trainer, _bar


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal (so the Trainer draws bars) and records them."""

    def isatty(self) -> bool:
        return True


def _screen(text: str) -> list[str]:
    """What a terminal shows for ``text``: each line is what follows its last ``\\r``."""
    lines = [line.rsplit("\r", 1)[-1].rstrip() for line in text.split("\n")]
    return [line for line in lines if line]


def _fit(epochs: int, batches: int) -> None:
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(8 * batches, 4, generator=generator),
                         torch.randint(0, 2, (8 * batches,), generator=generator))
    model = nn.Linear(4, 2)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                      seed=0, progress=True)
    trainer.fit(DataLoader(data, batch_size=8), epochs)


def test_a_terminal_fit_leaves_one_finished_line_per_epoch(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _fit(epochs=3, batches=4)
    lines = _screen(terminal.getvalue())
    assert len(lines) == 3, lines
    for epoch, line in enumerate(lines, 1):
        assert re.match(rf"epoch {epoch}/3: 100%\|.*\| 4/4 \[.*loss=[\d.]+", line), line


def test_progress_off_writes_nothing(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(8, 4, generator=generator), torch.zeros(8, dtype=torch.long))
    model = nn.Linear(4, 2)
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
            seed=0, progress=False).fit(DataLoader(data, batch_size=4), 2)
    assert sys.stderr.getvalue() == ""


def test_a_notebook_widget_bar_is_saved_finished(monkeypatch):
    pytest.importorskip("ipywidgets", reason="the widget bar needs the notebooks extra")
    shown: list[dict] = []

    class Handle:
        def update(self, obj):
            shown.append({"update": repr(obj)})

    def display(obj, display_id=None):
        shown.append({"display": repr(obj), "display_id": display_id})
        return Handle()

    monkeypatch.setattr(_bar, "in_jupyter_kernel", lambda: True)
    monkeypatch.setitem(sys.modules, "IPython.display", types.SimpleNamespace(display=display))
    bar = _bar.epoch_bar(4, 0, "epoch 1/1", enabled=True)
    for _ in range(4):
        bar.update(1)
    bar.close()
    assert [list(entry)[0] for entry in shown] == ["display", "update"]
    assert shown[0]["display_id"] is True
    assert re.match(r"epoch 1/1:\s+0%", shown[0]["display"]), shown[0]
    assert re.match(r"epoch 1/1: 100%\|.*\| 4/4", shown[1]["update"]), shown[1]
    assert bar.container.children[1].bar_style == "success"  # the widget stays, green


def test_without_ipywidgets_a_kernel_gets_a_text_bar_and_no_warning(monkeypatch, recwarn):
    monkeypatch.setattr(_bar, "in_jupyter_kernel", lambda: True)
    monkeypatch.setattr(_bar, "_has_widgets", lambda: False)
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    bar = _bar.epoch_bar(2, 0, "epoch 1/1", enabled=True)
    bar.update(2)
    bar.close()
    assert _screen(stream.getvalue())[0].startswith("epoch 1/1: 100%")
    assert not recwarn.list
