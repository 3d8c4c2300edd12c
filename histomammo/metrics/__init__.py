"""Metrics: functions ``(preds, targets)`` in torchmetrics' order, numpy or torch in (any
device, with or without grad), Python floats out, dicts where several numbers come back (curves:
dicts of numpy arrays). ``(N, C)`` model outputs are scored by their softmax (``from_logits``)."""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
