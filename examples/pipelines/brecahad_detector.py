"""Pipeline 3: BreCaHAD -> the paper's Faster R-CNN -> tumour-cell TPR / FDR."""
import sys
import tempfile

import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from histomammo.datasets import BreCaHAD, collate_detection, list_images, split_brecahad
from histomammo.datasets.synthetic import make_brecahad
from histomammo.engine import Trainer
from histomammo.metrics import detection_counts
from histomammo.models import calibrate_batchnorm, fasterrcnn_brecahad
from histomammo.systems.brecahad import PUBLISHED, brecahad_recipe, paper_augmentation

root = sys.argv[1] if len(sys.argv) > 1 else make_brecahad(
    tempfile.mkdtemp(), n_cases=4, images_per_case=1, size=(256, 340))
names = split_brecahad(list_images(root), seed=0)
to_float = v2.ToDtype(torch.float32, scale=True)  # the detector takes float in [0, 1]
options = dict(patch_size=(256, 340), image_size=None) if len(sys.argv) == 1 else {}
train = BreCaHAD(root, "train", names=names["train"], **options,
                 transforms=v2.Compose([paper_augmentation(), to_float]))
test = BreCaHAD(root, "test", names=names["test"], transform=to_float, **options)

size = {} if len(sys.argv) > 1 else dict(min_size=256, max_size=340)  # CPU-sized synthetic run
model = fasterrcnn_brecahad(num_classes=2, box_score_thresh=0.0, **size)
calibrate_batchnorm(model, [train[i][0] for i in range(len(train))])  # no ImageNet file here
recipe = brecahad_recipe([train], epochs=2)
trainer = Trainer.from_recipe(model, recipe, seed=0, progress=False)
trainer.fit(DataLoader(train, batch_size=2, shuffle=True, collate_fn=collate_detection),
            recipe.epochs)
predictions = trainer.predict(DataLoader(test, batch_size=1, collate_fn=collate_detection))
counts = detection_counts(predictions, [test[i][1] for i in range(len(test))], threshold=0.0, label=1)
print(f"tumour cells: TPR {counts['recall']:.2f}, FDR {counts['fdr']:.2f} at score 0 "
      f"(paper: TPR {PUBLISHED['tpr_lowest_threshold']} at its lowest threshold)")
