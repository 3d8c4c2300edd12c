"""The synthetic malignant mass is something a small CNN learns to see within seconds."""

from __future__ import annotations

import numpy as np
import torch

from histomammo.datasets.synthetic import screening_mammogram
from histomammo.transforms.mammo import normalize_intensity, preprocess_crop


def _crops(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = []
    for i, malignant in enumerate(labels):
        case = screening_mammogram((128, 104), rng, laterality="LR"[i // 2 % 2],
                                   view=("CC", "MLO")[i // 4 % 2], malignant=bool(malignant),
                                   grey_marker=i % 3 == 0)
        crop = preprocess_crop(case.pixels, out_size=(64, 64), marker_method="outside_breast")
        images.append(normalize_intensity(crop, mask=crop > 0))
    return torch.from_numpy(np.stack(images))[:, None], torch.from_numpy(labels)


def test_learns():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: threads only contend on a shared machine
    try:
        x_train, y_train = _crops(80, seed=1)
        x_val, y_val = _crops(40, seed=2)
        model = torch.nn.Sequential(
            torch.nn.AvgPool2d(2),  # 64x64 crops seen at 32x32
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveMaxPool2d(1),
            torch.nn.Flatten(), torch.nn.Linear(16, 2),
        )
        optimizer = torch.optim.Adam(model.parameters(), 1e-2)
        with torch.no_grad():
            before = (model(x_val).argmax(1) == y_val).float().mean().item()
        for _ in range(40):
            for start in range(0, 80, 16):
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x_train[start : start + 16]),
                                                         y_train[start : start + 16])
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
    finally:
        torch.set_num_threads(threads)
    assert accuracy >= 0.85 > before, (accuracy, before)
