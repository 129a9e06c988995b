"""A tensor's fingerprint: a bitwise hash, a small deterministic sample and its max abs.

Nothing draws random numbers or touches autograd. A CPU tensor's bytes are hashed with
BLAKE2b (``b2:``). On an accelerator everything is computed on the tensor's own device and
comes back in ONE small copy (the only synchronisation recording adds); the hash (``ws:``)
is a weighted sum of the tensor's 64-bit words modulo 2**64 (two independent odd
weight streams, 128 bits): integer sums are exact in any order, so the same bytes hash the
same on every device, and any change to one word changes the hash (its weight is odd, so
invertible modulo 2**64). Cost: about six elementwise passes over the tensor.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import torch

SAMPLE = 64  # values taken from the start, the end and at an even stride
_MULTIPLIERS = tuple(k - (1 << 64) if k >= 1 << 63 else k for k in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F))


@dataclass
class Digest:
    shape: tuple[int, ...]
    dtype: str
    hash: str
    sample: list[float]
    max_abs: float  # nan when the tensor holds a nan
    full: str | None = None  # file of the full tensor, relative to the record directory

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Digest":
        return cls(**{**data, "shape": tuple(data["shape"])})


def sample_indices(numel: int) -> list[int]:
    """First, last and evenly strided positions of a flattened tensor (sorted, unique)."""
    if numel <= 3 * SAMPLE:
        return list(range(numel))
    strided = (i * (numel - 1) // (SAMPLE - 1) for i in range(SAMPLE))
    return sorted({*range(SAMPLE), *range(numel - SAMPLE, numel), *strided})


def _words(flat: torch.Tensor) -> torch.Tensor:
    raw = flat.view(torch.uint8)
    pad = (-raw.numel()) % 8
    if pad:
        raw = torch.cat([raw, raw.new_zeros(pad)])
    return raw.view(torch.int64)


def _hash(flat: torch.Tensor) -> torch.Tensor:
    words = _words(flat)
    position = torch.arange(words.numel(), device=words.device, dtype=torch.int64)
    sums = []
    for k in _MULTIPLIERS:
        sums.append((words * (position * k | 1)).sum())
    return torch.stack(sums)


def digest(tensor: torch.Tensor, *, keep: bool = False) -> tuple[Digest, torch.Tensor | None]:
    """The fingerprint of ``tensor`` and, with ``keep``, a CPU copy of the whole tensor."""
    with torch.no_grad():
        flat = tensor.detach().contiguous().reshape(-1)
        if flat.is_complex():
            flat = torch.view_as_real(flat).reshape(-1)
        values = flat.to(torch.float64) if flat.dtype == torch.bool else flat
        index = torch.tensor(sample_indices(flat.numel()), dtype=torch.long, device=flat.device)
        sample = values.index_select(0, index).to(torch.float64)
        if flat.numel():
            max_abs = values.abs().amax().to(torch.float64).reshape(1)
        else:
            max_abs = torch.zeros(1, dtype=torch.float64, device=flat.device)
        hashed = _hash(flat) if flat.device.type != "cpu" else torch.zeros(2, dtype=torch.int64)
        payload = torch.cat([hashed, torch.cat([max_abs, sample]).view(torch.int64)]).cpu()
        full = flat.cpu().clone() if keep else None
    hashed, floats = payload[:2], payload[2:].view(torch.float64).tolist()
    if flat.device.type == "cpu":
        text = "b2:" + hashlib.blake2b(flat.view(torch.uint8).numpy().data, digest_size=16).hexdigest()
    else:
        text = "ws:" + "".join(f"{int(h) & ((1 << 64) - 1):016x}" for h in hashed)
    return Digest(tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."), text, floats[1:], floats[0]), full
