"""The old point-to-point ring helpers, kept as they
worked, with contiguous buffers. New code does not need them: ``ringlib.attention(...,
group=...)`` moves keys and values around the ring itself."""

from __future__ import annotations

import logging
from typing import Optional, Tuple

import torch
import torch.distributed as dist

Tensor = torch.Tensor
_log = logging.getLogger("dilated_attention_pytorch")


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _exchange(tensor: Tensor, dst: int, src: int, tag: int, rank: int, world_size: int,
              blocking_pair: bool = True) -> Tensor:
    """Send ``tensor`` to ``dst`` and receive one of its shape from ``src`` (contiguous)."""
    tensor = tensor.contiguous()
    received = torch.empty_like(tensor, memory_format=torch.contiguous_format)
    if world_size == 2 and blocking_pair:
        if rank == 0:
            dist.send(tensor, dst, tag=tag)
            dist.recv(received, src, tag=tag)
        else:
            dist.recv(received, src, tag=tag)
            dist.send(tensor, dst, tag=tag)
        return received
    ops = [dist.P2POp(dist.isend, tensor, dst, tag=tag), dist.P2POp(dist.irecv, received, src, tag=tag)]
    for request in dist.batch_isend_irecv(ops):
        request.wait()
    return received


def _forward_pass(tensors, rank: int, world_size: int, tags) -> tuple:
    """Each tensor to rank+1, received from rank-1."""
    dst, src = (rank + 1) % world_size, (rank - 1) % world_size
    return tuple(_exchange(t, dst, src, tag, rank, world_size) for t, tag in zip(tensors, tags))


def ring_pass_kv(k: Tensor, v: Tensor, rank: int, world_size: int) -> Tuple[Tensor, Tensor]:
    if world_size <= 1:
        return k, v
    return _forward_pass((k, v), rank, world_size, (0, 1))


def ring_pass_gradients(grad_k: Tensor, grad_v: Tensor, rank: int, world_size: int) -> Tuple[Tensor, Tensor]:
    """The reverse direction of ``ring_pass_kv``: send to rank-1, receive from rank+1."""
    if world_size <= 1:
        return grad_k, grad_v
    dst, src = (rank - 1) % world_size, (rank + 1) % world_size
    return tuple(_exchange(t, dst, src, tag, rank, world_size) for t, tag in ((grad_k, 2), (grad_v, 3)))


def ring_pass_kv_safe(k: Tensor, v: Tensor, rank: int, world_size: int) -> Tuple[Tensor, Tensor]:
    if world_size <= 1:
        return k, v
    return _forward_pass((k, v), rank, world_size, (100, 101))


def ring_pass_kv_safe_sdpa(k: Tensor, v: Tensor, rank: int, world_size: int) -> Tuple[Tensor, Tensor]:
    """The copy of ``ring_pass_kv_safe`` that lived in ``ring_dilated_attention_sdpa``."""
    return ring_pass_kv_safe(k, v, rank, world_size)


ring_pass_kv_safe_sdpa.__name__ = ring_pass_kv_safe_sdpa.__qualname__ = "ring_pass_kv_safe"


def safe_ring_pass_kv_pair(k: Tensor, v: Tensor, rank: int, world_size: int) -> Tuple[Tensor, Tensor]:
    """``safe_ring_pass(k, v, rank, world_size)`` of ``ring_dilated_attention_fixed_simple``."""
    return ring_pass_kv(k, v, rank, world_size)


safe_ring_pass_kv_pair.__name__ = safe_ring_pass_kv_pair.__qualname__ = "safe_ring_pass"


def ring_pass_forward(tensor: Tensor) -> Tensor:
    """The tensor received from rank-1 after sending ours to rank+1 (identity on one process)."""
    if not _distributed() or dist.get_world_size() == 1:
        return tensor
    return _forward_pass((tensor,), dist.get_rank(), dist.get_world_size(), (0,))[0]


def exists(val) -> bool:
    return val is not None


def create_causal_mask(seq_len: int, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """Additive mask: 0 on and below the diagonal, -inf above."""
    mask = torch.full((seq_len, seq_len), float("-inf"), device=device, dtype=dtype)
    return torch.triu(mask, diagonal=1)


def all_ring_pass(ring_size: int, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
    """Send ``x`` to global rank+1 (mod ``ring_size``), return what rank-1 sent; ``y`` ignored."""
    if not _distributed() or ring_size <= 1:
        return x
    rank = dist.get_rank()
    return _exchange(x, (rank + 1) % ring_size, (rank - 1) % ring_size, 0, rank, ring_size, blocking_pair=False)


def split_by_rank(tensor: Tensor, rank: int, world_size: int, dim: int = 0) -> Tensor:
    """This rank's slice along ``dim``: the first ``n % W`` ranks get one element more."""
    if world_size <= 1:
        return tensor
    n = tensor.shape[dim]
    chunk, rem = divmod(n, world_size)
    start = rank * (chunk + 1) if rank < rem else rank * chunk + rem
    return tensor.narrow(dim, start, chunk + (1 if rank < rem else 0))


def safe_ring_pass(tensor: Tensor, rank: Optional[int] = None, world_size: Optional[int] = None,
                   tag: int = 0) -> Tensor:
    if not _distributed():
        return tensor
    rank = dist.get_rank() if rank is None else rank
    world_size = dist.get_world_size() if world_size is None else world_size
    if world_size <= 1:
        return tensor
    return _forward_pass((tensor,), rank, world_size, (tag,))[0]


def safe_ring_pass_kv(k_tensor: Tensor, v_tensor: Tensor, rank: Optional[int] = None,
                      world_size: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    if not _distributed() or (world_size is not None and world_size <= 1):
        return k_tensor, v_tensor
    return (safe_ring_pass(k_tensor, rank, world_size, tag=0), safe_ring_pass(v_tensor, rank, world_size, tag=1))


def all_ring_pass_safe(ring_size: int, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
    """``all_ring_pass`` of ``ring_attention_utils_fixed``: ``safe_ring_pass(x, world_size=ring_size)``."""
    return safe_ring_pass(x, world_size=ring_size)


all_ring_pass_safe.__name__ = all_ring_pass_safe.__qualname__ = "all_ring_pass"


def validate_tensor_for_ring_pass(tensor, name: str = "tensor") -> None:
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor")
    if tensor.device.type != "cuda":
        raise ValueError(f"{name} must be on CUDA device for distributed ops")
    if tensor.requires_grad:
        _log.warning("%s requires grad; ring passes do not propagate gradients", name)


def create_ring_groups(world_size: int):
    if not _distributed() or world_size <= 1:
        return None
    return dist.group.WORLD


def get_memory_info(device: torch.device) -> dict:
    device = torch.device(device)
    if device.type != "cuda":
        return {}
    mib = 1024 * 1024
    return {"allocated_mb": torch.cuda.memory_allocated(device) / mib,
            "reserved_mb": torch.cuda.memory_reserved(device) / mib,
            "max_allocated_mb": torch.cuda.max_memory_allocated(device) / mib}


class RingCommunicator:
    """Ring neighbours and step-tagged passes."""

    def __init__(self, rank: Optional[int] = None, world_size: Optional[int] = None):
        dist_on = _distributed()
        self.rank = rank if rank is not None else (dist.get_rank() if dist_on else 0)
        self.world_size = world_size if world_size is not None else (dist.get_world_size() if dist_on else 1)
        w = self.world_size
        self.src = (self.rank - 1) % w if w > 1 else 0
        self.dst = (self.rank + 1) % w if w > 1 else 0
        self.step_count = 0

    def pass_tensor(self, tensor: Tensor, tag: Optional[int] = None) -> Tensor:
        if self.world_size <= 1:
            return tensor
        tag = self.step_count % 32767 if tag is None else tag
        self.step_count += 1
        return safe_ring_pass(tensor, self.rank, self.world_size, tag)

    def pass_kv(self, k: Tensor, v: Tensor) -> Tuple[Tensor, Tensor]:
        if self.world_size <= 1:
            return k, v
        tags = ((2 * self.step_count) % 32767, (2 * self.step_count + 1) % 32767)
        self.step_count += 1
        return (safe_ring_pass(k, self.rank, self.world_size, tags[0]),
                safe_ring_pass(v, self.rank, self.world_size, tags[1]))

    def barrier(self) -> None:
        if _distributed() and self.world_size > 1:
            dist.barrier()


def ring_pass_kv_no_deadlock(k: Tensor, v: Tensor, rank: int, world_size: int, step: int) -> Tuple[Tensor, Tensor]:
    if world_size <= 1:
        return k, v
    return _forward_pass((k, v), rank, world_size, (10 * step, 10 * step + 1))


def test_ring_communication() -> None:
    """The old smoke test of the ring (prints its progress)."""
    if not _distributed():
        print("Not in distributed mode")
        return
    rank, world_size = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    print(f"Rank {rank}: Testing ring communication...")
    k = torch.ones(2, 4, 100, 64, device=device) * rank
    v = torch.ones(2, 4, 100, 64, device=device) * (rank + 10)
    for step in range(world_size):
        print(f"Rank {rank}: Step {step}, K[0,0,0,0]={k[0, 0, 0, 0].item():.0f}, V[0,0,0,0]={v[0, 0, 0, 0].item():.0f}")
        if step < world_size - 1:
            k, v = ring_pass_kv_no_deadlock(k, v, rank, world_size, step)
    print(f"Rank {rank}: Communication test completed successfully!")


test_ring_communication.__test__ = False  # not a pytest test
