"""Failed, stalled or departed peers: detected within a bounded time and named on every rank.

Each ring attention call is one *epoch* of its process group (every rank counts its calls).
The ranks meet through the group's key-value store, never through a collective, so a
missing rank costs a bounded wait instead of the process group's timeout and leaves the
group usable:

* ``Call.exchange`` posts this rank's record (the metadata of its inputs, or the error it
  raised before the ring) and polls for every other rank's until ``RINGLIB_RING_TIMEOUT``;
  a rank that gives up posts an abort note, so that a late rank stops too instead of
  entering a ring nobody else is in;
* a rank that fails inside the ring posts what it was doing (``Call.report``); a rank whose
  receive times out or whose peer's connection closes posts whom it lost, then follows
  the others' notes to the rank that actually failed (``Call.culprit``), so that every
  survivor names the same rank.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass

import torch.distributed as dist

ENV = "RINGLIB_RING_TIMEOUT"
_GRACE_S = 0.5  # longest extra wait for the notes of the other survivors, after a timeout


class RingError(RuntimeError):
    """A peer of the ring failed, stalled or left; ``rank`` is that peer (global rank) where
    it is known."""

    def __init__(self, message: str, rank: int | None = None) -> None:
        super().__init__(message)
        self.rank = rank


def ring_timeout(group=None) -> float:
    """Seconds any wait for a peer may last: ``RINGLIB_RING_TIMEOUT`` where set, else the
    timeout of the group's store (the ``timeout`` given to ``init_process_group``)."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{ENV} must be a positive finite number of seconds, got {raw!r}")
        return value
    try:
        return _store(group).timeout.total_seconds()
    except Exception:  # pragma: no cover - a store without a timeout
        return 1800.0


def _store(group):
    """The group's own store (keys prefixed per group), else the default one with a prefix."""
    try:
        return dist.distributed_c10d._world.pg_map[group][1]
    except Exception:  # pragma: no cover - private layout moved
        name = getattr(group, "group_name", str(id(group)))
        return dist.PrefixStore(f"ringlib/{name}/", dist.distributed_c10d._get_default_store())


_EPOCHS: dict[int, int] = {}  # id(group) -> number of ring calls begun on it by this rank
_CURRENT: dict[int, "Call"] = {}


def _global(group, rank: int) -> int:
    return rank if group is None or group is dist.group.WORLD else dist.get_global_rank(group, rank)


@dataclass
class Call:
    """One ring attention call of this rank in ``group``: its epoch and its store keys."""

    group: object
    epoch: int
    rank: int  # in the group
    world: int
    timeout: float
    store: object

    @classmethod
    def begin(cls, group, timeout: float | None = None) -> "Call":
        epoch = _EPOCHS.get(id(group), 0) + 1
        _EPOCHS[id(group)] = epoch
        if timeout is None:
            try:
                timeout = ring_timeout(group)
            except ValueError:
                timeout = 1.0  # only this call's failure record is posted with it
        call = cls(group, epoch, dist.get_rank(group), dist.get_world_size(group), timeout, _store(group))
        _CURRENT[id(group)] = call
        return call

    @classmethod
    def current(cls, group) -> "Call":
        """The latest call begun on ``group`` (a new one where none was)."""
        return _CURRENT.get(id(group)) or cls.begin(group)

    def name(self, rank: int) -> str:
        return f"rank {_global(self.group, rank)}"

    def _key(self, *parts) -> str:
        return "/".join(["ringlib", str(self.epoch), *map(str, parts)])

    def _set(self, value, *parts) -> None:
        self.store.set(self._key(*parts), json.dumps(value))

    def _get(self, *parts):
        return json.loads(self.store.get(self._key(*parts)))

    def _poll(self, keys: list[str], deadline: float, stop: str | None = None) -> list[str]:
        """Wait until every key is set or ``deadline`` (monotonic) passes, or ``stop`` is
        set; returns the keys still missing (``[stop]`` when it was set)."""
        pause = 0.001
        while True:  # two store requests a round, one pause of 1 ms doubling up to 50 ms between
            if stop is not None and self.store.check([stop]):
                return [stop]
            if self.store.check(keys):
                return []
            if time.monotonic() >= deadline:
                return [k for k in keys if not self.store.check([k])]
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.05)

    # -- before the ring -----------------------------------------------------------------

    def exchange(self, record: dict, what: str) -> list[dict]:
        """Post this rank's record, return every rank's (by group rank), or raise
        ``RingError`` naming the ranks that did not post within the timeout."""
        try:
            self._set(record, "in", self.rank)
            keys = [self._key("in", r) for r in range(self.world)]
            start = time.monotonic()
            missing = self._poll(keys, start + self.timeout, stop=self._key("abort"))
            if missing == [self._key("abort")]:  # another rank gave up on a late one (maybe this)
                note = self._get("abort")
                raise RingError(f"ring attention: {note['text']}", note["rank"])
            if missing:
                late = [int(k.rpartition("/")[2]) for k in missing]
                names = ", ".join(self.name(r) for r in late)
                note = (f"{names} did not reach {what} within {self.timeout:g} s ({self.name(self.rank)} "
                        f"waited; a rank that failed, stalled or left before calling ring attention)")
                self._set({"text": note, "rank": _global(self.group, late[0])}, "abort")
                raise RingError(f"ring attention: {note}", _global(self.group, late[0]))
            records = [json.loads(v) for v in self.store.multi_get(keys)]
        except RingError:
            raise
        except Exception as exc:  # the store itself is gone (its host rank failed)
            raise RingError(f"ring attention: {self.name(self.rank)} lost the process group's store at {what} "
                            f"(the rank hosting it, usually rank 0, failed or left): "
                            f"{type(exc).__name__}: {exc}", 0) from exc
        for r, record in enumerate(records):
            if "failed" in record:
                raise RingError(f"ring attention: {record['failed']}", _global(self.group, r))
        if self.epoch > 2:  # every rank has read the records of two calls ago
            try:
                self.store.delete_key(f"ringlib/{self.epoch - 2}/in/{self.rank}")
            except Exception:  # pragma: no cover - stores without deletion keep them
                pass
        return records

    def tell_failure(self, exc: BaseException, what: str) -> None:
        """Post this rank's failure in place of its record, so the others stop at once."""
        try:
            self._set({"failed": f"{self.name(self.rank)} failed {what}: {type(exc).__name__}: {exc}"},
                      "in", self.rank)
        except Exception:  # pragma: no cover - the store is gone too: the others time out
            pass

    # -- inside the ring -------------------------------------------------------------------

    def report(self, exc: BaseException, what: str) -> None:
        """Post that this rank failed while doing ``what`` (the others name it)."""
        text = f"{self.name(self.rank)} failed {what}: {type(exc).__name__}: {exc}"
        try:
            self._set({"blames": None, "text": text}, "fault", self.rank)
        except Exception:  # pragma: no cover - the store is gone: the others time out
            pass

    def lost(self, peer: int, text: str, broken: bool) -> RingError:
        """This rank lost ``peer`` (group rank; ``broken``: its connection closed, else a
        timeout): post it, find the rank that really failed, return the error to raise."""
        try:
            self._set({"blames": peer, "text": text}, "fault", self.rank)
            culprit, why = self.culprit(peer)
        except Exception:  # the store is gone as well
            culprit, why = peer, None
        if why is None:
            why = (f"{self.name(culprit)} failed or left the ring (its process ended or its connection broke)"
                   if broken and culprit == peer else f"{self.name(culprit)} failed, stalled or left the ring")
        return RingError(f"ring attention: {text}; {why}", _global(self.group, culprit))

    def culprit(self, peer: int) -> tuple[int, str | None]:
        """Follow the survivors' notes from ``peer`` to the first rank that said nothing or
        said it failed by itself; returns that rank and its own words (or None)."""
        deadline = time.monotonic() + min(_GRACE_S, self.timeout / 4)
        first, seen = peer, {self.rank}
        while peer not in seen:
            seen.add(peer)
            if self._poll([self._key("fault", peer)], deadline):
                return peer, None
            note = self._get("fault", peer)
            if note["blames"] is None:
                return peer, note["text"]
            peer = note["blames"]
        return first, None  # the notes blame each other: keep the rank this one lost
