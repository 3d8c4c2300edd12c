"""Pipeline 2: GlaS -> U-Net -> the GlaS challenge's metrics (object F1, Dice, Hausdorff)."""
import sys
import tempfile

import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.datasets import GlaS
from histomammo.datasets.synthetic import make_glas
from histomammo.engine import Trainer
from histomammo.metrics import glas_metrics
from histomammo.models import unet
from histomammo.postprocess import probabilities_to_instances

root = sys.argv[1] if len(sys.argv) > 1 else make_glas(
    tempfile.mkdtemp(), counts={"train": 12, "testA": 4, "testB": 4}, size=(96, 128))
to_float = v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True)
train = GlaS(root, "train", target="semantic", transforms=to_float)


def loss(logits, target):  # one gland channel against the binary mask
    return torch.nn.functional.binary_cross_entropy_with_logits(
        logits[:, 0], (target["mask"] > 0).float())


model = unet(num_classes=1, base_channels=8, depth=3)
trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-2), loss, seed=0, progress=False)
trainer.fit(DataLoader(train, batch_size=4, shuffle=True), epochs=40)

test = GlaS(root, "test", target="semantic")
model.eval()
with torch.no_grad():
    probabilities = [torch.sigmoid(model(to_float(test[i][0])[None]))[0, 0] for i in range(len(test))]
instances = [probabilities_to_instances(p.numpy(), min_size=20) for p in probabilities]
print(glas_metrics(instances, [test.labels(i) for i in range(len(test))]))
