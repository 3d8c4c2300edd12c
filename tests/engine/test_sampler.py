"""The engine's resumable sampler and the rebuilt DataLoader."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler

from histomammo.engine._loader import engine_loader, loader_shuffles, not_rebuildable_reason
from histomammo.engine.sampler import ResumableSampler, derive_seed


def test_smoke():
    shuffled = list(ResumableSampler(50, shuffle=True, seed=1))
    assert sorted(shuffled) == list(range(50)) and shuffled != list(range(50))
    assert list(ResumableSampler(5, shuffle=False)) == [0, 1, 2, 3, 4]


def test_epoch_and_seed_select_the_permutation():
    sampler = ResumableSampler(30, shuffle=True, seed=3)
    orders = {}
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        orders.setdefault(epoch, []).append(list(sampler))
    assert orders[0][0] == orders[0][1]
    assert orders[0][0] != orders[1][0]
    assert list(ResumableSampler(30, True, seed=4)) != orders[0][0]
    assert derive_seed(0, 1) != derive_seed(1, 0)


def test_resumes_after_consumed_samples():
    sampler = ResumableSampler(20, shuffle=True, seed=0)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.advance(8)
    state = sampler.state_dict()
    assert state == {"epoch": 2, "consumed": 8}
    fresh = ResumableSampler(20, shuffle=True, seed=0)
    fresh.load_state_dict(state)
    assert list(fresh) == full[8:] and len(fresh) == 12
    fresh.set_epoch(3)
    assert fresh.consumed == 0 and len(fresh) == 20


@pytest.mark.parametrize(("num_samples", "ranks", "batch"), [(24, 2, 4), (20, 3, 2), (7, 4, 1)])
def test_distributed_shards_union_to_single_process_batches(num_samples, ranks, batch):
    single = ResumableSampler(num_samples, shuffle=True, seed=9)
    single.set_epoch(1)
    shards = []
    for rank in range(ranks):
        sampler = ResumableSampler(num_samples, True, 9, num_replicas=ranks, rank=rank)
        sampler.set_epoch(1)
        shards.append(list(sampler))
    assert {len(shard) for shard in shards} == {-(-num_samples // ranks)}  # padded equally
    order = list(single)
    padded = order + order[: len(shards[0]) * ranks - num_samples]
    for t in range(len(shards[0]) // batch):
        union = sorted(i for shard in shards for i in shard[t * batch:(t + 1) * batch])
        assert union == sorted(padded[t * batch * ranks:(t + 1) * batch * ranks])


def test_distributed_resume_position_is_per_rank():
    sampler = ResumableSampler(10, True, 0, num_replicas=2, rank=1)
    full = list(sampler)
    sampler.advance(2)
    assert list(sampler) == full[2:]


def test_exception():
    with pytest.raises(ValueError, match="rank"):
        ResumableSampler(10, True, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_samples"):
        ResumableSampler(-1, True)


def _collate(samples):
    return torch.stack([x for x, _ in samples]), torch.stack([y for _, y in samples])


def _worker_init(worker_id: int) -> None:
    pass


def test_rebuilt_loader_keeps_every_setting():
    data = TensorDataset(torch.arange(10.0), torch.arange(10))
    loader = DataLoader(data, batch_size=3, shuffle=True, drop_last=True, collate_fn=_collate,
                        num_workers=1, timeout=7, worker_init_fn=_worker_init,
                        prefetch_factor=3, persistent_workers=True, in_order=False)
    rebuilt, sampler, generator = engine_loader(loader, shuffle=True, seed=0, pin_memory=False)
    for name in ("batch_size", "drop_last", "collate_fn", "num_workers", "timeout",
                 "worker_init_fn", "prefetch_factor", "persistent_workers", "in_order",
                 "pin_memory", "multiprocessing_context"):
        assert getattr(rebuilt, name) == getattr(loader, name), name
    # with workers, the sampler's indices are tagged with the epoch for per-sample seeding
    assert rebuilt.sampler.sampler is sampler and rebuilt.generator is generator
    assert rebuilt.dataset.dataset is data
    assert len(rebuilt) == 3  # drop_last kept


def test_which_loaders_can_be_rebuilt():
    data = TensorDataset(torch.arange(8.0))
    assert loader_shuffles(DataLoader(data, shuffle=True).sampler) is True
    assert loader_shuffles(DataLoader(data).sampler) is False
    assert not_rebuildable_reason(DataLoader(data, batch_size=2)) is None
    replacement = DataLoader(data, sampler=RandomSampler(data, replacement=True))
    assert "custom sampler" in not_rebuildable_reason(replacement)
    weighted = DataLoader(data, sampler=WeightedRandomSampler([1.0] * 8, 8))
    assert "custom sampler" in not_rebuildable_reason(weighted)
    batched = DataLoader(data, batch_sampler=[[0, 1], [2, 3]])
    assert "batch_sampler" in not_rebuildable_reason(batched)
