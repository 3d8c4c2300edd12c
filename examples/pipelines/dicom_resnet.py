"""Pipeline 1: a folder of mammograms -> breast crop -> greyscale ResNet-50 -> Trainer (CC vs MLO)."""
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from histomammo.datasets.synthetic import make_inbreast
from histomammo.engine import Trainer
from histomammo.io import read_dicom
from histomammo.metrics import roc_auc
from histomammo.models import resnet50_grey
from histomammo.transforms.mammo import preprocess_crop

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else make_inbreast(tempfile.mkdtemp(), n_patients=8)
images, views = [], []
for path in sorted(folder.rglob("*.dcm")):
    dicom = read_dicom(path, raw=True)  # the stored integers, as the thesis pipeline expects
    if dicom.view in ("CC", "MLO"):
        crop = preprocess_crop(dicom.pixels, out_size=(64, 64))  # markers removed, Otsu crop
        images.append(crop.astype(np.float32) / (2**dicom.bits_stored - 1))
        views.append(int(dicom.view == "MLO"))
x, y = torch.from_numpy(np.stack(images))[:, None], torch.tensor(views)
order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
train, test = order[: len(y) * 3 // 4], order[len(y) * 3 // 4:]

model = resnet50_grey(num_classes=2)
trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss(),
                  seed=0, progress=False)
trainer.fit(DataLoader(TensorDataset(x[train], y[train]), batch_size=8, shuffle=True), epochs=6)
result = trainer.evaluate(DataLoader(TensorDataset(x[test], y[test]), batch_size=8),
                          metrics={"auc": roc_auc})
print(f"{len(y)} mammograms; test loss {result['loss']:.3f}, AUC (CC vs MLO) {result['auc']:.3f}")
