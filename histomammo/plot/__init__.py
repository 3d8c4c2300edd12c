"""Figures: one ``plot_*(..., ax=None) -> Figure`` function per figure.

Every function draws into ``ax`` when given (a sequence of axes for figures of several
panels) and otherwise makes a new pyplot figure, which a notebook shows inline; it returns the
figure and never writes a file: save it with ``save_figure``
(atomic). The backend is left to the user: the library never switches it.
matplotlib (the ``plot`` extra) is imported inside the functions, so importing this package
costs nothing.
"""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
