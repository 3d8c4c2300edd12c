"""Post-processing: small objects, holes, weak connections; labels kept, any integer width."""

from __future__ import annotations

import numpy as np
import pytest

from histomammo.postprocess import (
    fill_holes,
    probabilities_to_instances,
    remove_small_objects,
    split_weak_connections,
)


def dumbbell(neck=1):
    image = np.zeros((13, 27), np.int64)
    image[1:12, 1:12] = 70000
    image[1:12, 15:26] = 70000
    image[6 - neck // 2 : 6 - neck // 2 + neck, 12:15] = 70000
    return image


def test_remove_small_objects_keeps_labels_and_width():
    labels = np.zeros((5, 5), np.uint32)
    labels[0:3, 0:3] = 4_000_000_000
    labels[4, 4] = 9
    out = remove_small_objects(labels, 2)
    assert out.dtype == np.uint32
    assert set(np.unique(out)) == {0, 4_000_000_000}
    assert labels[4, 4] == 9  # input untouched


def test_remove_small_objects_on_a_boolean_mask():
    mask = np.zeros((5, 5), bool)
    mask[0:2, 0:2] = True
    mask[4, 4] = True
    assert np.count_nonzero(remove_small_objects(mask, 3)) == 4


def test_fill_holes_per_object():
    labels = np.zeros((9, 14), np.int32)
    labels[1:8, 1:8] = 3
    labels[3:5, 3:5] = 0  # a hole inside object 3
    labels[1:8, 9:11] = 5  # two touching objects around a gap: not a hole of either
    labels[1:8, 12:14] = 6
    labels[1, 11] = labels[7, 11] = 5
    out = fill_holes(labels)
    assert (out[3:5, 3:5] == 3).all()
    assert (out[2:7, 11] == 0).all()
    assert (out[labels != 0] == labels[labels != 0]).all()


def test_split_weak_connections_splits_a_dumbbell_but_not_a_blob():
    pieces = split_weak_connections(dumbbell())
    values = [v for v in np.unique(pieces) if v]
    assert len(values) == 2 and 70000 in values
    blob = np.zeros((12, 12), np.int64)
    blob[1:11, 1:11] = 2
    assert np.array_equal(split_weak_connections(blob), blob)
    thick = split_weak_connections(dumbbell(neck=9))
    assert len(np.unique(thick)) == 2  # a wide connection stays one object


def test_split_weak_connections_accepts_probabilities():
    prob = (dumbbell() > 0) * 0.8
    assert len(np.unique(split_weak_connections(prob))) == 3


def test_probabilities_to_instances_composes():
    prob = np.zeros((20, 30))
    prob[(dumbbell() > 0).nonzero()] = 0.9
    prob[5, 5] = 0.1  # a hole after thresholding
    prob[18, 28] = 0.95  # a speck
    plain = probabilities_to_instances(prob)
    assert plain.dtype == np.int32 and plain.max() == 2
    assert plain[5, 5] == 0
    full = probabilities_to_instances(prob, fill=True, split=True, min_size=5)
    assert len(np.unique(full)) == 3 and full[5, 5] != 0 and full[18, 28] == 0


def test_exception():
    with pytest.raises(TypeError, match="integer label image"):
        remove_small_objects(np.zeros((3, 3)), 2)
    with pytest.raises(ValueError, match="2-D"):
        fill_holes(np.zeros(3, int))
    with pytest.raises(ValueError, match="NaN"):
        probabilities_to_instances(np.full((2, 2), np.nan))
