"""Datasets: one module per public dataset layout, plus
[`synthetic`][histomammo.datasets.synthetic],
which writes small files in those exact layouts for tests, demos and tutorials."""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
