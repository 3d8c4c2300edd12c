"""Public names of ``histomammo.postprocess``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.postprocess import duplicates as duplicates
from histomammo.postprocess import glas as glas
from histomammo.postprocess import instances as instances
from histomammo.postprocess.duplicates import suppress_duplicates as suppress_duplicates
from histomammo.postprocess.glas import fill_holes as fill_holes
from histomammo.postprocess.glas import probabilities_to_instances as probabilities_to_instances
from histomammo.postprocess.glas import remove_small_objects as remove_small_objects
from histomammo.postprocess.glas import split_weak_connections as split_weak_connections
from histomammo.postprocess.instances import maskrcnn_instances as maskrcnn_instances
