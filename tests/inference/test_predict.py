"""predict_slides: one atomic output per slide, resume after SIGKILL, torchrun sharding."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from histomammo.datasets.synthetic import make_slide
from histomammo.inference import Heatmap, OutputExistsError, classify_slide, predict_slides

pytest.importorskip("zarr")

SCRIPT = Path(__file__).with_name("_predict_run.py")
sys.path.insert(0, str(SCRIPT.parent))
import _predict_run  # noqa: E402  (the subprocess's own code, run here for the reference)


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slides")
    for index, shape in enumerate([(192, 256), (160, 300), (224, 200)]):
        make_slide(folder / f"s{index}.tif", shape, levels=1, tile=64, seed=index)
    return folder


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _env():
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _run(slides, out, workers, sleep="0"):
    subprocess.run([sys.executable, str(SCRIPT), str(slides), str(out), str(workers), sleep],
                   check=True, env=_env(), capture_output=True, timeout=300)


def _killed_runs(slides, out, workers, kills, rng):
    """Start the run, SIGKILL it after a random delay, ``kills`` times; then let it finish.

    Returns how many kills left a slide half-written (a ``.partial`` store).
    """
    done = halfway = 0
    while done < kills:
        process = subprocess.Popen([sys.executable, str(SCRIPT), str(slides), str(out),
                                    str(workers), "0.02"], env=_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
        assert process.stdout.readline().strip() == b"ready"
        if done == 0:  # the first kill lands while a slide is half-written, at a random instant
            while process.poll() is None and not any(out.glob("*.partial/progress.json")):
                time.sleep(0.01)
        try:
            process.wait(timeout=float(rng.uniform(0.0, 0.4) if done == 0 else
                                       rng.uniform(0.2, 2.5)))
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            done += 1
            halfway += any(out.glob("*.partial"))
        else:  # finished before the kill: start over from nothing for another kill
            process.stdout.close()
            shutil.rmtree(out)
            continue
        process.stdout.close()
    _run(slides, out, workers, "0.0")
    return halfway


def _check_resume(slides, tmp_path, workers, kills, seed, monkeypatch):
    for (module, name), value in _predict_run.SMALL.items():
        monkeypatch.setattr(module, name, value)
    _predict_run.run(str(slides), str(tmp_path / "reference"), workers, 0.0)  # in this process
    halfway = _killed_runs(slides, tmp_path / "killed", workers, kills,
                           np.random.default_rng(seed))
    assert halfway >= 1  # at least one kill interrupted a slide in progress
    reference, killed = _files(tmp_path / "reference"), _files(tmp_path / "killed")
    assert sorted(reference) == sorted(killed)
    assert all(reference[name] == killed[name] for name in reference)
    assert len([n for n in reference if n.endswith("zarr.json")]) >= 3 * 2  # group + levels


def test_resume_after_kill(slides, tmp_path, monkeypatch):
    _check_resume(slides, tmp_path, workers=0, kills=1, seed=0, monkeypatch=monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_after_many_kills(slides, tmp_path, workers, monkeypatch):
    _check_resume(slides, tmp_path, workers=workers, kills=5, seed=workers + 1,
                  monkeypatch=monkeypatch)


@pytest.mark.slow
def test_torchrun_equals_single_process(slides, tmp_path):
    _run(slides, tmp_path / "single", 0)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                    "--master-port", "29517", str(SCRIPT), str(slides), str(tmp_path / "ddp"),
                    "0", "0"], check=True, env=_env(), capture_output=True, timeout=300)
    assert _files(tmp_path / "single") == _files(tmp_path / "ddp")


def test_skips_finished_and_saves_results(slides, tmp_path, classifier):
    calls = []

    def predict(slide, out):
        calls.append(out.name)
        return classify_slide(classifier, slide, patch_size=32, tissue=None, progress=False)

    paths = sorted(slides.glob("*.tif"))
    outputs = predict_slides(paths, predict, tmp_path, suffix=".npz", progress=False)
    assert [p.name for p in outputs] == ["s0.npz", "s1.npz", "s2.npz"] == calls
    assert Heatmap.load(outputs[1]).shape == (160 // 32, 300 // 32)
    predict_slides(paths, predict, tmp_path, suffix=".npz", progress=False)
    assert len(calls) == 3  # all finished: nothing run again
    with pytest.raises(OutputExistsError, match="s0.npz exists"):
        predict_slides(paths, predict, tmp_path, suffix=".npz", resume=False, progress=False)
    with pytest.raises(ValueError, match="distinct file names"):
        predict_slides([paths[0], paths[0]], predict, tmp_path / "x", progress=False)
