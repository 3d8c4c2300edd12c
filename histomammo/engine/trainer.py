"""The training loop: :class:`Trainer` with exact resume, AMP, gradient accumulation and DDP.

See ``docs/engine.md`` for the resume semantics, what a checkpoint holds, and how to run the
same script under ``torchrun``. The contract with callbacks is in
:mod:`histomammo.engine.callbacks`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
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
from histomammo.engine._amp import amp_setup, autocast
from histomammo.engine._loader import engine_loader, loader_shuffles, not_rebuildable_reason
from histomammo.engine._loop import run_epoch
from histomammo.engine._rng import capture_rng_state, seed_everything
from histomammo.engine._state import restore_trainer_state, resume_from_newest, trainer_state
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
        each optimizer step (``"batch"``). :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau`
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
    seed : int
        At the start of a fresh ``fit``: python, numpy and torch global generators are
        seeded with ``seed + rank`` (dropout etc. draw from torch's global generator), and
        the engine's sampler shuffles each epoch from ``(seed, epoch)``.
    checkpoint_dir : str, os.PathLike or None
        Where ``checkpoint-{global_step:09d}.pt`` files (one after every epoch) and
        ``history.csv`` are written, and where ``fit(resume=True)`` looks.
    checkpoint_every : int or None
        Also checkpoint every N optimizer steps within an epoch.
    keep_last : int
        Number of ``checkpoint-*.pt`` files kept; older ones are deleted after a new one is
        in place.
    callbacks : iterable of Callback
        Called in order (see :mod:`histomammo.engine.callbacks`).
    progress : bool
        tqdm bar per epoch (main process, when stderr is a terminal); otherwise one INFO
        log line per epoch on the ``histomammo`` logger.

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
        seed: int = 0,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        keep_last: int = 2,
        callbacks: Iterable[Callback] = (),
        progress: bool = True,
    ) -> None:
        _check_arguments(scheduler, scheduler_step, grad_clip, accumulate, seed,
                         checkpoint_every, keep_last)
        self.device = dist.resolve_device(device)
        dist.init_from_env(self.device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.scheduler = scheduler
        self.scheduler_step = scheduler_step
        self.grad_clip = grad_clip
        self.accumulate = int(accumulate)
        self.seed = int(seed)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every
        self.keep_last = int(keep_last)
        self.callbacks: list[Callback] = list(callbacks)
        self.progress = progress
        self.autocast_dtype, self.scaler = amp_setup(amp, self.device)
        # Position and record of training; everything below goes into a checkpoint.
        self.epoch = 0
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.stop_training = False
        self.batch_in_epoch = 0  # micro-batches of `epoch` already consumed
        self.epoch_sums: dict[str, float] = {}  # sample-weighted loss sums, "samples"
        self.epoch_seconds_before = 0.0  # time spent in `epoch` before a resume
        self.epoch_done = False  # True between the epoch's history row and its end
        self.sampler: ResumableSampler | None = None
        self.sampler_state: dict[str, int] | None = None  # a restored mid-epoch position
        self._fresh = True  # nothing trained or restored yet: fit seeds the generators
        self._epoch_clock = time.perf_counter()
        self._ddp: nn.Module | None = None
        self._ddp_signature: tuple[bool, ...] = ()
        self._warned: set[str] = set()

    @property
    def is_main_process(self) -> bool:
        """``True`` on rank 0 and in a single-process run."""
        return dist.is_main_process()

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        train_loader: DataLoader,
        epochs: int,
        val_loader: DataLoader | None = None,
        resume: bool = True,
        metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs in total are done; return :attr:`history`.

        Parameters
        ----------
        train_loader : DataLoader
            A plain loader (``shuffle=True`` or not) is rebuilt with every setting kept
            around the engine's seeded, resumable, rank-sharded sampler. A custom sampler
            or batch_sampler, or an IterableDataset, is used as given (a warning says so):
            such an epoch is never resumed mid-way but restarted from its beginning.
        epochs : int
            Total number of epochs (a resumed run continues up to it).
        val_loader : DataLoader or None
            Evaluated after every epoch with :meth:`evaluate`.
        resume : bool
            Continue from the newest loadable checkpoint in ``checkpoint_dir`` (corrupt
            ones are skipped with a warning). ``False`` refuses a directory that already
            holds checkpoints rather than mixing two runs.
        metrics : mapping of str to callable or None
            ``{name: fn(outputs, targets)}`` evaluated on ``val_loader``; recorded in the
            history row as ``val_<name>`` (and ``val_loss``).

        Returns
        -------
        list of dict
            One row per epoch: ``epoch``, ``step`` (global step), ``lr`` (first param
            group, before the epoch's scheduler step), ``loss`` and ``loss_<term>``
            (sample-weighted epoch means, averaged over ranks), ``val_*``, ``seconds``.

        Raises
        ------
        CheckpointError
            ``checkpoint_dir`` holds checkpoints but none can be loaded, or an incompatible
            one (other model keys); or ``resume=False`` with existing checkpoints.
        """
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, but got {epochs!r}")
        self._prepare_run(resume)
        loader, self.sampler, generator = self._training_loader(train_loader)
        for callback in self.callbacks:
            callback.on_fit_start(self)
        while self.epoch < epochs and not self.stop_training:
            run_epoch(self, loader, generator, epochs, val_loader, metrics)
        for callback in self.callbacks:
            callback.on_fit_end(self)
        return self.history

    def _prepare_run(self, resume: bool) -> None:
        """Append the CSV logger, resume from ``checkpoint_dir`` or seed a fresh run."""
        self.stop_training = False
        if self.checkpoint_dir is not None:
            if not any(isinstance(cb, CSVLogger) and cb.path == self._csv_path
                       for cb in self.callbacks):
                self.callbacks.append(CSVLogger(self._csv_path))
            existing = ckpt._list_checkpoints(self.checkpoint_dir)
            if existing and not resume:
                raise CheckpointError(
                    f"{self.checkpoint_dir}: holds {len(existing)} checkpoint(s) of an "
                    "earlier run; pass resume=True to continue it, or use an empty directory"
                )
            if existing:
                path = resume_from_newest(self, existing)
                self._fresh = False
                logger.info("resumed from %s (epoch %d, step %d)", path, self.epoch,
                            self.global_step)
            if self.is_main_process:
                ckpt._remove_temporaries(self.checkpoint_dir)
        if self._fresh:
            seed_everything(self.seed + dist.get_rank())
        self._fresh = False

    @property
    def _csv_path(self) -> Path:
        return self.checkpoint_dir / "history.csv"

    def _training_loader(
        self, loader: DataLoader
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

    def _restart_epoch_progress(self) -> None:
        """Forget what the current epoch has consumed, summed and timed: it starts afresh."""
        self.batch_in_epoch, self.epoch_sums, self.epoch_seconds_before = 0, {}, 0.0

    @property
    def epoch_seconds(self) -> float:
        """Seconds spent in the current epoch so far (across a resume)."""
        return self.epoch_seconds_before + time.perf_counter() - self._epoch_clock

    def _autocast(self):
        return autocast(self.device, self.autocast_dtype)

    @property
    def _reduce_device(self) -> torch.device:
        """gloo reduces CPU tensors, nccl CUDA ones."""
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    # ------------------------------------------------------------ evaluation
    def evaluate(
        self, loader: DataLoader, metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None
    ) -> dict[str, Any]:
        """Loss and metrics over a whole loader (all ranks' samples under DDP).

        Parameters
        ----------
        loader : DataLoader
            Batches as in :meth:`fit`. Under DDP a plain loader is sharded across ranks
            and the outputs are gathered back in dataset order.
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
        return _evaluate.evaluate(self, loader, metrics or {})

    def predict(self, loader: DataLoader) -> Any:
        """Model outputs in eval mode on the CPU, concatenated over the loader.

        Returns
        -------
        Tensor, list, dict or tuple
            Tensors joined along dim 0 (e.g. ``(N, classes)`` logits); list outputs
            (detection: one dict per image) joined into one list. Under DDP every rank
            gets all outputs, in dataset order.
        """
        return _evaluate.predict(self, loader)

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write a full, resumable checkpoint of this process to ``path``, atomically.

        Call it on one rank (e.g. ``if trainer.is_main_process``): it does not
        communicate. The trainer's own periodic checkpoints also store every rank's
        random-generator state.
        """
        return ckpt.save_checkpoint(path, trainer_state(self, [capture_rng_state()]))

    def load_checkpoint(self, path: str | os.PathLike[str], *, model_only: bool = False) -> None:
        """Restore a checkpoint: the model's weights only, or the whole training state.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by the trainer.
        model_only : bool
            Load the weights alone (for evaluation); otherwise optimizer, scheduler,
            scaler, position, history, callbacks and random generators too, so a following
            ``fit`` continues exactly where the checkpoint was taken.

        Raises
        ------
        CheckpointError
            Unreadable or unsafe file, missing entries, or model keys that do not match
            (the message lists the missing and unexpected keys).
        """
        state = ckpt.load_checkpoint(path, map_location="cpu")
        self._restore(state, Path(path), model_only=model_only)

    def _restore(self, state: dict[str, Any], path: Path, model_only: bool = False) -> None:
        restore_trainer_state(self, state, path, model_only=model_only)
        self._fresh = self._fresh and model_only

    def _write_periodic_checkpoint(self) -> None:
        """Every rank's generator states, written by rank 0, then a barrier."""
        rng_states = dist.all_gather_objects(capture_rng_state())
        if self.is_main_process:
            path = self.checkpoint_dir / ckpt.checkpoint_name(self.global_step)
            ckpt.save_checkpoint(path, trainer_state(self, rng_states))
            ckpt._prune_checkpoints(self.checkpoint_dir, self.keep_last)
        dist.barrier()

    # ------------------------------------------------------------ plumbing
    def _training_module(self) -> nn.Module:
        """The model, wrapped in DDP under torch.distributed (re-wrapped when the set of
        trainable parameters changed, since DDP only synchronises parameters that
        required gradients when it was built)."""
        if not dist.is_distributed():
            return self.model
        signature = tuple(p.requires_grad for p in self.model.parameters())
        if self._ddp is None or signature != self._ddp_signature:
            self._ddp = None
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
            self._ddp_signature = signature
        return self._ddp

    def _progress_enabled(self) -> bool:
        return bool(self.progress and self.is_main_process and sys.stderr.isatty())

    def _progress_bar(self, total: int | None, epochs: int):
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=self.batch_in_epoch, unit="batch", leave=False,
                    desc=f"epoch {self.epoch + 1}/{epochs}", disable=not self._progress_enabled())

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(message, UserWarning, stacklevel=4)


def _check_arguments(scheduler, scheduler_step, grad_clip, accumulate, seed,
                     checkpoint_every, keep_last) -> None:
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch' or 'batch', but got {scheduler_step!r}")
    if scheduler_step == "batch" and isinstance(
        scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau
    ):
        raise ValueError("ReduceLROnPlateau needs scheduler_step='epoch' (it monitors val_loss)")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be > 0 or None, but got {grad_clip!r}")
    if not isinstance(accumulate, int) or accumulate < 1:
        raise ValueError(f"accumulate must be an int >= 1, but got {accumulate!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, but got {seed!r}")
    if checkpoint_every is not None and (not isinstance(checkpoint_every, int)
                                         or checkpoint_every < 1):
        raise ValueError(f"checkpoint_every must be an int >= 1 or None, but got {checkpoint_every!r}")
    if not isinstance(keep_last, int) or keep_last < 1:
        raise ValueError(f"keep_last must be an int >= 1, but got {keep_last!r}")
