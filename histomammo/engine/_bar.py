"""The epoch progress bar of ``fit``: a live bar while the epoch runs, one finished line after.

Every epoch's bar stays when the epoch ends (``leave=True``), so a run leaves one line per
epoch with its loss: in a terminal the bar of ``tqdm.std`` (redrawn in place), in a Jupyter
kernel with ipywidgets a widget (``tqdm.notebook``), and without ipywidgets ``tqdm.std`` on the
kernel's stream (no "IProgress not found" warning, which ``tqdm.auto`` would print).

A widget bar is displayed with a display id and displayed again when it closes, so a notebook
saved after the run (``nbclient``, ``jupyter nbconvert --execute``) stores the finished bar's
text (``epoch 1/3: 100%|...``) beside the widget, not the empty bar it started as.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

__all__ = ["epoch_bar", "in_jupyter_kernel"]


def in_jupyter_kernel() -> bool:
    """Code runs in a Jupyter kernel (IPython is imported and its shell is a kernel's).

    Examples
    --------
    >>> in_jupyter_kernel()  # doctests run outside Jupyter
    False
    """
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    kernel = get_ipython() if callable(get_ipython) else None
    return kernel is not None and "IPKernelApp" in getattr(kernel, "config", {})


def _has_widgets() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


def epoch_bar(total: int | None, initial: int, desc: str, enabled: bool) -> Any:
    """A ``tqdm`` bar over an epoch's batches that stays as one line when it closes.

    Parameters
    ----------
    total : int or None
        Batches in the epoch (``None``: a loader without a length).
    initial : int
        Batches already done (a resumed epoch).
    desc : str
        The bar's label, e.g. ``"epoch 2/10"``.
    enabled : bool
        ``False`` gives a disabled bar (``bar.disable`` is ``True``; it draws nothing).

    Returns
    -------
    tqdm.tqdm
        A widget bar in a Jupyter kernel with ipywidgets, a text bar on ``sys.stderr``
        otherwise.

    Examples
    --------
    >>> bar = epoch_bar(4, 0, "epoch 1/1", enabled=False)
    >>> bar.disable
    True
    >>> bar.close()
    """
    options: dict[str, Any] = {"total": total, "initial": initial, "desc": desc, "unit": "batch",
                               "leave": True, "disable": not enabled}
    if enabled and in_jupyter_kernel() and _has_widgets():
        return _widget_bar(options)
    from tqdm.std import tqdm

    return tqdm(file=sys.stderr, **options)


def _widget_bar(options: dict[str, Any]) -> Any:
    from IPython.display import display
    from tqdm.notebook import tqdm as notebook_tqdm

    class WidgetBar(notebook_tqdm):  # type: ignore[type-arg]  # tqdm is generic in its item type; bars of batches have none
        """``tqdm.notebook.tqdm`` whose output is updated (by display id) when it closes."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(display=False, **kwargs)
            self._handle = display(self.container, display_id=True)
            self.displayed = True

        def close(self) -> None:
            if self.disable:
                return
            super().close()
            self._handle.update(self.container)  # the saved output: the finished bar

    return WidgetBar(**options)
