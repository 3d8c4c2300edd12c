"""Against peers on the same images (``test``/``bench`` extras; skipped when a peer is absent).

torchstain (torch backend) and TIAToolbox both follow Macenko's MATLAB code. Conventions that
differ from ours, and are undone here before comparing:

* torchstain: OD of ``(I + 1) / 240`` (ours ``max(I, 1) / 240``); nearest-rank percentiles
  (ours interpolate, as numpy); eigenvectors used with whatever sign ``eigh`` returns, so a
  stain vector may come back negated; output truncated to integers (ours rounded).
* TIAToolbox: stain matrix as rows ``(2, 3)``; tissue by LAB luminosity below 0.8 (ours: OD at
  least 0.15 in every channel); OD of ``max(I, 1) / 255``; Reinhard in OpenCV's 8-bit LAB.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stain_cases import angles, synthetic_he

from histomammo.transforms.stain import StainNormalizer, macenko_stain_matrix


def images(ihc: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (target, source)}``: halves of the real IHC section, and synthetic H&E."""
    return {"ihc": (ihc[:256], ihc[256:]), "synthetic_he": (synthetic_he(1), synthetic_he(2))}


def positive(stains: np.ndarray) -> np.ndarray:
    """Columns signed to point into positive optical density (torchstain leaves signs open)."""
    return stains * np.where(stains.sum(0) < 0, -1, 1)


def chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)


@pytest.mark.parametrize("name", ["ihc", "synthetic_he"])
def test_macenko_matches_torchstain(ihc, name):
    torchstain = pytest.importorskip("torchstain")
    target, source = images(ihc)[name]
    peer = torchstain.normalizers.MacenkoNormalizer(backend="torch")
    peer.fit(chw(target))
    theirs = positive(peer.HERef.numpy().astype(np.float64))
    assert angles(macenko_stain_matrix(target), theirs).max() < 1.0
    ours = StainNormalizer("macenko").fit(target).transform(source.astype(np.float64) / 255) * 255
    peer_out = peer.normalize(chw(source), stains=False)[0].numpy().astype(np.float64)
    difference = np.abs(ours - (peer_out + 0.5))  # + 0.5: their truncation
    assert difference.mean() < 2.0 and np.percentile(difference, 99) < 6


def test_reinhard_matches_torchstain(ihc):
    """torchstain's Reinhard (after HistomicsTK and StainTools): CIELAB statistics as ours, in
    OpenCV's scaling (an affine change of each channel, which Reinhard's mapping undoes)."""
    torchstain = pytest.importorskip("torchstain")
    target, source = images(ihc)["synthetic_he"]
    peer = torchstain.normalizers.ReinhardNormalizer(backend="torch")
    peer.fit(chw(target))
    theirs = peer.normalize(chw(source)).numpy().astype(np.float64)  # HWC, truncated, not clipped
    ours = StainNormalizer("reinhard").fit(target).transform(source.astype(np.float64) / 255) * 255
    inside = (ours > 0.5).all(-1) & (ours < 254.5).all(-1)  # they wrap around where we clip
    difference = np.abs(ours - (theirs + 0.5))[inside]
    assert inside.mean() > 0.95 and difference.mean() < 0.5


def test_macenko_matches_tiatoolbox(ihc):
    stainnorm = pytest.importorskip("tiatoolbox.tools.stainnorm")
    target, source = images(ihc)["ihc"]
    peer = stainnorm.MacenkoNormalizer()
    peer.fit(target)
    theirs = peer.stain_matrix_target.T
    assert angles(macenko_stain_matrix(target, background=255), theirs).max() < 1.0
    ours = StainNormalizer("macenko", background=255).fit(target).transform(source)
    assert np.abs(ours.astype(float) - peer.transform(source).astype(float)).mean() < 2.0


def test_reinhard_matches_tiatoolbox(ihc):
    stainnorm = pytest.importorskip("tiatoolbox.tools.stainnorm")
    target, source = images(ihc)["synthetic_he"]
    peer = stainnorm.ReinhardNormalizer()
    peer.fit(target)
    ours = StainNormalizer("reinhard").fit(target).transform(source)
    assert np.abs(ours.astype(float) - peer.transform(source).astype(float)).mean() < 1.5
