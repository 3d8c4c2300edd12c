"""Fallbacks for the oldest releases of the core dependencies that histomammo declares.

Each name here is the newer API, or its older spelling on the floor release; ``make test-min``
runs the suite on every floor (``ci/floor_constraints.py``). Drop an entry when its floor rises.

Examples
--------
>>> from histomammo._compat import trapezoid
>>> float(trapezoid([0.0, 1.0, 1.0], [0.0, 0.5, 1.0]))
0.75
"""

from __future__ import annotations

import numpy as np

__all__ = ["trapezoid"]

# numpy.trapezoid is 2.0+; numpy.trapz (the same rule) on 1.x, deprecated in 2.0, gone in 2.4.
trapezoid = np.trapezoid if hasattr(np, "trapezoid") else getattr(np, "trapz")  # noqa: B009
