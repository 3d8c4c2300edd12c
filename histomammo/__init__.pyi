"""Public names of ``histomammo``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo import datasets as datasets
from histomammo import engine as engine
from histomammo import errors as errors
from histomammo import inference as inference
from histomammo import io as io
from histomammo import metrics as metrics
from histomammo import models as models
from histomammo import plot as plot
from histomammo import postprocess as postprocess
from histomammo import systems as systems
from histomammo import transforms as transforms
from histomammo._show_versions import show_versions as show_versions

__version__: str
