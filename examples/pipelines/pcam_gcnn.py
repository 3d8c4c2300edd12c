"""Pipeline 4: PatchCamelyon -> P4 G-CNN (rotation-invariant) -> test AUC."""
import sys
import tempfile

import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from histomammo.datasets import PCam
from histomammo.datasets.synthetic import make_pcam
from histomammo.engine import Trainer
from histomammo.metrics import roc_auc
from histomammo.models import gcnn
from histomammo.systems.pcam import PUBLISHED

root = sys.argv[1] if len(sys.argv) > 1 else make_pcam(
    tempfile.mkdtemp(), {"train": 256, "test": 128}, splits=["train", "test"], progress=False)
to_float = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Resize(48, antialias=True)])
train = PCam(root, "train", transform=to_float)
test = PCam(root, "test", transform=to_float)

model = gcnn(num_classes=2, group="p4", widths=(8, 16, 32), hidden=32, input_size=48)
trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss(),
                  seed=0, progress=False)
trainer.fit(DataLoader(train, batch_size=32, shuffle=True), epochs=3)
result = trainer.evaluate(DataLoader(test, batch_size=64), metrics={"auc": roc_auc})
print(f"test loss {result['loss']:.3f}, AUC {result['auc']:.3f}")
for row in PUBLISHED:  # the published numbers beside the user's
    print(f"  published: {row['model']}: accuracy {row['accuracy']}%, AUC {row['auc']}")
