"""The training loop: [`Trainer`][histomammo.engine.Trainer] with exact resume, AMP, gradient
accumulation and DDP.

See ``docs/engine.md`` for the resume semantics, what a checkpoint holds, and how to run the
same script under ``torchrun``. The contract with callbacks is in
[`histomammo.engine.callbacks`][histomammo.engine.callbacks].
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from histomammo.engine import _evaluate
from histomammo.engine import checkpoint as ckpt
from histomammo.engine import distributed as dist
from histomammo.engine._amp import amp_setup
from histomammo.engine._checkpointer import Checkpointer
from histomammo.engine._loader import engine_loader, loader_shuffles, not_rebuildable_reason
from histomammo.engine._loop import FitRun, run_epoch
from histomammo.engine._progress import Progress
from histomammo.engine._recipe import Recipe, trainer_from_recipe
from histomammo.engine._rng import capture_rng_state, seed_everything
from histomammo.engine._setup import can_show_a_bar, check_arguments, draw_seed
from histomammo.engine._state import apply_state, check_state, run_state
from histomammo.engine._step import OptimizationStep
from histomammo.engine._view import TrainerView
from histomammo.engine.callbacks import Callback, CSVLogger
from histomammo.engine.sampler import ResumableSampler
from histomammo.errors import CheckpointError

__all__ = ["Trainer"]

logger = logging.getLogger("histomammo")


class Trainer:
    """Train, evaluate and predict with a model, checkpointing so no work is ever lost.

    Parameters
    ----------
    model : nn.Module
        Moved to ``device`` here (its parameters stay the objects ``optimizer`` holds).
    optimizer : torch.optim.Optimizer
        Built over ``model``'s parameters.
    loss_fn : callable or None
        ``loss_fn(model(inputs), targets)`` returning a scalar tensor or a dict of scalar
        terms (summed; each logged as ``loss_<term>``). ``None``: the model computes its
        own loss dict in train mode, ``model(inputs, targets)`` (torchvision detection).
    scheduler : LR scheduler or None
        Stepped after each epoch (``scheduler_step="epoch"``, after validation) or after
        each optimizer step (``"batch"``). `ReduceLROnPlateau`
        (epoch mode only) is stepped with ``val_loss``, or the train ``loss`` without a
        validation loader.
    device : "auto", str or torch.device
        ``"auto"``: ``cuda:LOCAL_RANK`` when CUDA is available, else CPU.
    amp : bool
        Autocast on CUDA: bfloat16 where supported, else float16 with a gradient scaler.
        On CPU a ``UserWarning`` is issued and training runs in float32.
    grad_clip : float or None
        Clip the total L2 norm of the gradients to this value before each optimizer step.
    accumulate : int
        Micro-batches per optimizer step; the loss is divided by the group's size.
    seed : int or None
        The run's seed: the engine's sampler shuffles each epoch from ``(seed, epoch)``,
        and DataLoader workers seed each sample from ``(seed, epoch, index)``. ``None``
        (default): drawn once from torch's global generator (rank 0's under DDP) and
        stored in the checkpoints; the global generators are left alone. An int also
        seeds python's, numpy's and torch's global generators with ``seed + rank`` at
        the start of a fresh ``fit`` (dropout etc. draw from them). A resumed run takes
        the seed of its checkpoint and restores every generator state.
    checkpoint_dir : str, os.PathLike or None
        Where ``checkpoint-{global_step:09d}.pt`` files (one after every epoch) and
        ``history.csv`` are written, and where ``fit(resume=True)`` looks.
    checkpoint_every : int or None
        Also checkpoint every N optimizer steps within an epoch.
    keep_last : int
        Number of ``checkpoint-*.pt`` files kept; older ones are deleted after a new one is
        in place.
    callbacks : iterable of Callback
        Called in order (see [`histomammo.engine.callbacks`][histomammo.engine.callbacks]).
    progress : bool
        A bar per epoch (main process, when stderr is a terminal or in a Jupyter kernel:
        a widget there with ipywidgets), left as the epoch's finished line when the epoch
        ends; otherwise one INFO log line per epoch on the ``histomammo`` logger.
    prepare_batch : callable or None
        ``prepare_batch(batch) -> (inputs, targets)`` for batch layouts the engine does
        not know (see ``docs/engine.md``, "Batches"); ``None``: tuples ``(inputs,
        targets, ...)``, and dicts with ``image``/``input`` and ``target``/``label``/``mask``.

    Attributes
    ----------
    state : Progress
        Where training stands (epoch, step, position, history);
        [`epoch`][histomammo.engine.trainer.Trainer.epoch],
        [`global_step`][histomammo.engine.trainer.Trainer.global_step],
        [`history`][histomammo.engine.trainer.Trainer.history] and
        [`stop_training`][histomammo.engine.trainer.Trainer.stop_training] read it.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> data = TensorDataset(torch.randn(64, 3), torch.randint(0, 2, (64,)))
    >>> loader = DataLoader(data, batch_size=16, shuffle=True)
    >>> model = torch.nn.Linear(3, 2)
    >>> trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1),
    ...                   torch.nn.CrossEntropyLoss(), device="cpu", progress=False)
    >>> history = trainer.fit(loader, epochs=2, val_loader=loader)
    >>> [row["epoch"] for row in history], history[-1]["step"], "val_loss" in history[-1]
    ([0, 1], 8, True)
    >>> trainer.predict(loader).shape
    torch.Size([64, 2])
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[Any, Any], Any] | None = None,
        *,
        scheduler: Any = None,
        scheduler_step: str = "epoch",
        device: str | torch.device = "auto",
        amp: bool = False,
        grad_clip: float | None = None,
        accumulate: int = 1,
        seed: int | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        keep_last: int = 2,
        callbacks: Iterable[Callback] = (),
        progress: bool = True,
        prepare_batch: Callable[[Any], tuple[Any, Any]] | None = None,
    ) -> None:
        check_arguments(scheduler, scheduler_step, grad_clip, accumulate, seed,
                         checkpoint_every, keep_last, prepare_batch)
        self.device = dist.resolve_device(device)
        dist.init_from_env(self.device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.scheduler = scheduler
        self.scheduler_step = scheduler_step
        self.grad_clip = grad_clip
        self.accumulate = int(accumulate)
        # seed=None: one seed drawn from torch's generator (rank 0's, so all ranks agree);
        # the global generators are then left alone. An int also seeds them at fit start.
        self._seeds_globals = seed is not None
        self.seed = int(seed) if seed is not None else draw_seed()
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every
        self.keep_last = int(keep_last)
        self.callbacks: list[Callback] = list(callbacks)
        self.progress = progress
        self.prepare_batch = prepare_batch
        self.autocast_dtype, self.scaler = amp_setup(amp, self.device)
        self.state = Progress()  # where training stands: the one owner
        self._step = OptimizationStep(self.model, optimizer, loss_fn, self.device,
                                      self.autocast_dtype, self.scaler, grad_clip,
                                      self.accumulate, prepare_batch)
        self._checkpointer = (Checkpointer(self.checkpoint_dir, self.keep_last)
                              if self.checkpoint_dir is not None else None)
        self._fresh = True  # nothing trained or restored yet: fit may seed the generators
        self._explicit_load: Path | None = None  # a full load_checkpoint since the last fit
        self._warned: set[str] = set()

    @classmethod
    def from_recipe(cls, model: nn.Module, recipe: Recipe, *, phase: int | None = None,
                    **overrides: Any) -> Trainer:
        """``Trainer.from_recipe(model, recipe, *, phase=None, **overrides)``: a trainer built
        from one phase of a [`Recipe`][histomammo.engine.Recipe]; overrides replace any argument."""
        return trainer_from_recipe(cls, model, recipe, phase=phase, **overrides)

    # ------------------------------------------------- where training stands
    @property
    def epoch(self) -> int:
        """The epoch in progress (0-based), or the next one between epochs."""
        return self.state.epoch

    @property
    def global_step(self) -> int:
        """Optimizer steps taken."""
        return self.state.global_step

    @property
    def batch_in_epoch(self) -> int:
        """Micro-batches of the current epoch done by completed optimizer steps."""
        return self.state.batch_in_epoch

    @property
    def history(self) -> list[dict[str, Any]]:
        """One dict per finished epoch (see [`fit`][histomammo.engine.trainer.Trainer.fit])."""
        return self.state.history

    @property
    def stop_training(self) -> bool:
        """Set to ``True`` (e.g. by a callback) to end ``fit`` after the current epoch."""
        return self.state.stopped

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self.state.stopped = bool(value)

    @property
    def is_main_process(self) -> bool:
        """``True`` on rank 0 and in a single-process run."""
        return dist.is_main_process()

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        train_loader: DataLoader[Any],
        epochs: int,
        val_loader: DataLoader[Any] | None = None,
        resume: bool | str | os.PathLike[str] = True,
        metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs in total are done; return
        [`history`][histomammo.engine.trainer.Trainer.history].

        Parameters
        ----------
        train_loader : DataLoader
            A plain loader (``shuffle=True`` or not) is rebuilt with every setting kept
            around the engine's seeded, resumable, rank-sharded sampler. A custom sampler
            or batch_sampler, or an IterableDataset, is used as given (a warning says so):
            such an epoch is never resumed mid-way but restarted from its beginning.
        epochs : int
            Total number of epochs (a resumed run continues up to it; a run that already
            has them warns and returns at once).
        val_loader : DataLoader or None
            Evaluated after every epoch with
            [`evaluate`][histomammo.engine.trainer.Trainer.evaluate].
        resume : bool, str or os.PathLike
            ``True``: continue from the newest loadable checkpoint in ``checkpoint_dir``
            (corrupt ones are skipped with a warning). ``False`` refuses a directory that
            already holds checkpoints rather than mixing two runs. A path: continue from
            that checkpoint file. A full
            [`load_checkpoint`][histomammo.engine.trainer.Trainer.load_checkpoint] before ``fit``
            wins over
            the directory in every case.
        metrics : mapping of str to callable or None
            ``{name: fn(outputs, targets)}`` evaluated on ``val_loader``; recorded in the
            history row as ``val_<name>`` (and ``val_loss``).

        Returns
        -------
        list of dict
            One row per epoch: ``epoch``, ``step`` (global step), ``lr`` (first param
            group, before the epoch's scheduler step), ``loss`` and ``loss_<term>``
            (sample-weighted epoch means, averaged over ranks), ``val_*``, ``seconds``.
            Values are Python numbers (what callbacks add too).

        Raises
        ------
        CheckpointError
            ``checkpoint_dir`` holds checkpoints but none can be loaded, or an incompatible
            one (other model keys); ``resume=False`` with existing checkpoints; a
            checkpoint cannot be written (full disk, a directory in the way).
        """
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, but got {epochs!r}")
        if not isinstance(resume, bool):
            self.load_checkpoint(resume)
        self._prepare_run(resume is True, epochs)
        loader, sampler, generator = self._training_loader(train_loader)
        run = self._fit_run()
        for callback in self.callbacks:
            callback.on_fit_start(run.view)
        while self.state.epoch < epochs and not self.state.stopped:
            run_epoch(run, loader, sampler, generator, epochs, val_loader, metrics)
        for callback in self.callbacks:
            callback.on_fit_end(run.view)
        return self.history

    def _prepare_run(self, resume: bool, epochs: int) -> None:
        """Append the CSV logger, resume from ``checkpoint_dir`` or seed a fresh run."""
        explicit, self._explicit_load = self._explicit_load, None
        self.state.stopped = False
        checkpointer = self._checkpointer
        if checkpointer is not None:
            csv_path = checkpointer.directory / "history.csv"
            if not any(isinstance(cb, CSVLogger) and cb.path == csv_path
                       for cb in self.callbacks):
                self.callbacks.append(CSVLogger(csv_path))
            if explicit is None:
                self._resume_from_directory(checkpointer, resume)
            checkpointer.remove_temporaries()
        if self._fresh and self._seeds_globals:
            seed_everything(self.seed + dist.get_rank())
        self._fresh = False
        if self.state.epoch >= epochs and epochs > 0:
            self._warn_once(
                f"fit(epochs={epochs}) does nothing: {self.state.epoch} epochs are done "
                "already and epochs is the total, not a count of more epochs "
                f"(pass epochs={self.state.epoch + epochs} to train {epochs} more)"
            )

    def _resume_from_directory(self, checkpointer: Checkpointer, resume: bool) -> None:
        if not self._fresh:
            return  # a second fit on the same trainer continues from its own state
        existing = checkpointer.existing()
        if existing and not resume:
            raise CheckpointError(
                f"{self.checkpoint_dir}: holds {len(existing)} checkpoint(s) of an "
                "earlier run; pass resume=True to continue it, or use an empty directory"
            )
        newest = checkpointer.load_newest() if existing else None
        if newest is None:  # none, or removed since they were listed
            return
        path, state = newest
        self._restore(state, path)
        logger.info("resumed from %s (epoch %d, step %d)", path, self.epoch, self.global_step)

    def _training_loader(
        self, loader: DataLoader[Any]
    ) -> tuple[Any, ResumableSampler | None, torch.Generator | None]:
        reason = not_rebuildable_reason(loader)
        if reason is None:
            return engine_loader(loader, shuffle=bool(loader_shuffles(loader.sampler)),
                                 seed=self.seed, pin_memory=self.device.type == "cuda")
        self._warn_once(
            f"the training loader cannot be rebuilt with the engine's sampler because "
            f"{reason}: it is used as given (not sharded across ranks by the engine), "
            "and an epoch interrupted mid-way restarts from its beginning on resume"
        )
        return loader, None, None

    def _fit_run(self) -> FitRun:
        return FitRun(
            progress=self.state, step=self._step, scheduler=self.scheduler,
            scheduler_step=self.scheduler_step, callbacks=self.callbacks,
            view=self._view(), seed=self.seed, checkpointer=self._checkpointer,
            checkpoint_every=self.checkpoint_every, state=self._run_state,
            show_progress=self._progress_enabled(), warn=self._warn_once,
        )

    def _view(self) -> TrainerView:
        return TrainerView(model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                           device=self.device, seed=self.seed,
                           checkpoint_dir=self.checkpoint_dir, progress=self.state,
                           save=self.save_checkpoint)

    def _run_state(self) -> dict[str, Any]:
        return run_state(self._step, self.scheduler, self.state, self.callbacks, self.seed)

    # ------------------------------------------------------------ evaluation
    def evaluate(
        self, loader: DataLoader[Any], metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None
    ) -> dict[str, Any]:
        """Loss and metrics over a whole loader (all ranks' samples under DDP).

        Parameters
        ----------
        loader : DataLoader
            Batches as in [`fit`][histomammo.engine.trainer.Trainer.fit]. Under DDP a plain loader
            is sharded across ranks
            without padding and the outputs are gathered back in dataset order; a loader
            with the user's own sampler (e.g. ``DistributedSampler``) is gathered in rank
            order, so every rank computes the metrics on all outputs.
        metrics : mapping of str to callable or None
            ``{name: fn(outputs, targets)}``: ``outputs`` and ``targets`` concatenated over
            the loader on the CPU (tensors along dim 0; lists, e.g. detection outputs,
            joined; float16/bfloat16 outputs as float32).

        Returns
        -------
        dict
            ``loss`` (sample-weighted mean; present when a loss can be computed: with a
            ``loss_fn`` and targets, or for ``loss_fn=None`` models by calling
            ``model(inputs, targets)`` in train mode under ``no_grad`` with every
            BatchNorm/InstanceNorm and Dropout module kept in eval mode, so no running
            statistic changes) and one entry per metric (Python numbers where scalar).
            For ``loss_fn=None`` models with metrics, a second, eval-mode forward pass
            produces the outputs.
        """
        return _evaluate.evaluate(self._step, self.seed, loader, metrics or {})

    def predict(self, loader: DataLoader[Any]) -> Any:
        """Model outputs in eval mode on the CPU, concatenated over the loader.

        Returns
        -------
        Tensor, list, dict or tuple
            Tensors joined along dim 0 (e.g. ``(N, classes)`` logits); list outputs
            (detection: one dict per image) joined into one list. Under DDP every rank
            gets all outputs of a plain loader, in dataset order.
        """
        return _evaluate.predict(self._step, self.seed, loader)

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write a full, resumable checkpoint of this process to ``path``, atomically.

        Call it on one rank (e.g. ``if trainer.is_main_process``): it does not
        communicate. The trainer's own periodic checkpoints also store every rank's
        random-generator state.
        """
        return ckpt.save_checkpoint(path, {**self._run_state(), "rng": [capture_rng_state()]})

    def load_checkpoint(self, path: str | os.PathLike[str], *, model_only: bool = False) -> None:
        """Restore a checkpoint: the model's weights only, or the whole training state.

        All or nothing: everything is checked against this trainer before anything is
        changed, so a failing load leaves the trainer as it was.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by the trainer.
        model_only : bool
            Load the weights alone (for evaluation); otherwise optimizer, scheduler,
            scaler, position, history, callbacks, seed and random generators too, so the
            next ``fit`` continues exactly where the checkpoint was taken, whatever
            ``checkpoint_dir`` holds.

        Raises
        ------
        CheckpointError
            Unreadable, corrupt or unsafe file, missing entries, model keys or shapes that
            do not match (the message lists them), or an optimizer state that does not fit.
        """
        state = ckpt.load_checkpoint(path, map_location="cpu")
        if model_only:
            check_state(state, Path(path), self.model, None)
            self.model.load_state_dict(state["model"])
            return
        self._restore(state, Path(path))
        self._explicit_load = Path(path)

    def _restore(self, state: dict[str, Any], path: Path) -> None:
        check_state(state, path, self.model, self.optimizer)
        apply_state(state, path, self._step, self.scheduler, self.state, self.callbacks)
        if "seed" in state:
            self.seed = int(state["seed"])
        self._fresh = False

    # ------------------------------------------------------------ plumbing
    def _progress_enabled(self) -> bool:
        return bool(self.progress and self.is_main_process and can_show_a_bar())

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(message, UserWarning, stacklevel=4)
