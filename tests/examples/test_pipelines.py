"""The five pipelines a new user writes (issue 19), each under 40 lines of public API, run end to
end on synthetic data and print their metric."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PIPELINES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"
EXPECTED = {  # what each prints when it ran to the end
    "dicom_resnet.py": "AUC (CC vs MLO)",
    "glas_unet.py": "'f1':",
    "brecahad_detector.py": "tumour cells: TPR",
    "pcam_gcnn.py": "published: ",
    "slide_patches.py": "AUC against the drawn tumour",
}


def test_every_pipeline_is_short_and_listed():
    scripts = sorted(p.name for p in PIPELINES.glob("*.py"))
    assert scripts == sorted(EXPECTED)
    for name in scripts:
        assert len((PIPELINES / name).read_text().splitlines()) < 40, name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pipeline_runs(name, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PIPELINES.parents[1]), "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(PIPELINES / name)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert EXPECTED[name] in done.stdout, done.stdout
