"""Pipeline 5: a tiled TIFF slide -> tissue mask -> patches -> a patch classifier's tumour map."""
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from histomammo.datasets import PCam, make_pcam_from_slides
from histomammo.datasets.synthetic import make_slide
from histomammo.engine import Trainer
from histomammo.io import TiffImage
from histomammo.metrics import roc_auc
from histomammo.models import plain_cnn
from histomammo.transforms.patches import SlidePatches

tmp = Path(tempfile.mkdtemp())
seen, unseen = (make_slide(tmp / f"slide_{i}.tif", (2048, 2048), seed=i) for i in (1, 2))
root = make_pcam_from_slides([seen.path], [seen.tumour], tmp / "pcam", level=1, n_patches=256,
                             splits=["train"], progress=False)  # labelled patches of one slide
model = plain_cnn(num_classes=2, channels=(8, 16, 32), hidden=32)
trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss(),
                  seed=0, progress=False)
to_float = lambda image: image.float() / 255  # noqa: E731
trainer.fit(DataLoader(PCam(root, "train", transform=to_float), batch_size=32, shuffle=True), 10)

slide = TiffImage(sys.argv[1] if len(sys.argv) > 1 else unseen.path)
patches = SlidePatches(slide, 96, level=1, tissue_mask="otsu", min_tissue=0.5, transform=to_float)
scores = trainer.predict(DataLoader(patches, batch_size=64)).softmax(1)[:, 1]
print(f"{len(patches)} tissue patches of {slide.shape}, {int((scores > 0.5).sum())} called tumour")
if len(sys.argv) == 1:  # the synthetic slide's own tumour mask says which were right
    y, x = ((patches.positions + 48 * 2) // unseen.downsample).T  # patch centres, level 0
    truth = torch.from_numpy(unseen.tumour[y, x].astype(np.int64))
    print(f"AUC against the drawn tumour: {roc_auc(scores, truth):.3f} ({int(truth.sum())} tumour patches)")
