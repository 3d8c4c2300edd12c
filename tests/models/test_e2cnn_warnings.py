"""No third-party warning reaches the user from the e2cnn models: e2cnn 0.2.3 indexes with a
``torch.uint8`` mask when it builds an ``R2Conv``; the library filters that one warning around
its own ``R2Conv`` calls, never globally.

Each check runs in a fresh interpreter: torch raises a C++ warning once per process, so a
warning seen by an earlier test would hide it from a later one.
"""

from __future__ import annotations

import subprocess
import sys

_PRELUDE = """
import warnings
import torch
import e2cnn  # imported before the filters: a warning at import time would not be the library's
"""

#: Build, train a step, evaluate, export and re-head every e2cnn model; any warning is an error.
_USE_EVERY_E2CNN_MODEL = _PRELUDE + """
from histomammo.models import all_gconv_net, create_model, gcnn, p4m_densenet
warnings.simplefilter("error")
torch.manual_seed(0)
models = [  # (model, input side)
    (gcnn(num_classes=2, group="p4", widths=(2, 4, 4), hidden=8, input_size=32), 32),
    (gcnn(num_classes=2, group="p4m", widths=(2, 4, 4), hidden=8, input_size=32), 32),
    (create_model("gcnn", group="p4m", widths=(2, 4, 4), hidden=8), 96),
    (all_gconv_net(num_classes=2, group="p4", widths=(2, 2, 2, 2, 2, 2)), 96),
    (p4m_densenet(num_classes=2, growth=2, layers_per_block=1, fit_input="crop"), 96),
]
for model, side in models:
    x = torch.rand(2, 3, side, side)
    model.train()
    model(x).sum().backward()
    model.eval()
    with torch.no_grad():
        model(x)
        model.export()(x)
models[3][0].reset_classifier(3)
print("no warning")
"""

#: The control: e2cnn's own R2Conv, unfiltered, does warn (so the test above can fail).
_PLAIN_R2CONV = _PRELUDE + """
from histomammo.models import equivariant  # the numpy-2 shim, nothing else
import e2cnn.gspaces as gspaces, e2cnn.nn as enn
space = gspaces.Rot2dOnR2(4)
field = enn.FieldType(space, [space.regular_repr])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    enn.R2Conv(field, field, 3)
print([str(w.message) for w in caught])
"""


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def test_e2cnn_models_emit_no_warning():
    result = _python(_USE_EVERY_E2CNN_MODEL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "no warning"
    assert result.stderr == ""


def test_unfiltered_e2cnn_does_warn():
    result = _python(_PLAIN_R2CONV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "indexing with dtype torch.uint8 is now deprecated" in result.stdout
