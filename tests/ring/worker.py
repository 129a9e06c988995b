"""One rank of a spawned gloo group (run by ``tests/ring/spawn.py``, not collected by pytest).

``python worker.py RANK WORLD INIT_FILE OUT_DIR SCENARIO`` runs the scenario's cases and
writes ``OUT_DIR/rank{RANK}.json``: per case the maximum errors of the output shard and of
the q/k/v gradient shards against the single-process result on the full sequence, or the
error message the case raised.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
import traceback

import functools

import torch
import torch.distributed as dist

import ringlib
import ringlib.dropout
import ringlib.ring
from ringlib.ring import comm, sharding, strided, traffic

torch.set_num_threads(1)
SENT = [0]  # bytes this rank has sent through the ring (counted by wrapping Ring.exchange)
_post, _exchange = comm.Ring.post, comm.Ring.exchange


def _counting_exchange(self, sends, recvs, what, **kw):
    SENT[0] += sum(t.numel() * t.element_size() for t, _ in sends)
    return _exchange(self, sends, recvs, what, **kw)


comm.Ring.exchange = _counting_exchange


def _inputs(batch, n, heads, d, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, n, heads, d, generator=g, dtype=torch.float64).to(dtype) for _ in range(4)]


def exactness(case, group):
    """Ring result vs single process on the gathered sequence: output and q/k/v grads, plus
    the bytes this rank sent and the strategy used. Below float64 the errors are against the
    float64 reference, with the error of a plain single-process run in the same dtype."""
    pattern, n, heads, causal, ordering, layout, dtype = (
        case["pattern"], case["n"], case["heads"], case.get("causal", False), case.get("ordering"),
        case.get("layout", "contiguous"), case.get("dtype", torch.float64))
    batch, d = case.get("batch", 2), case.get("d", 8)
    q, k, v, grad = _inputs(batch, n, heads, d, torch.float64, case.get("seed", 0))

    def single(dtype_):
        full = [t.to(dtype_).requires_grad_() for t in (q, k, v)]
        out = ringlib.attention(*full, pattern, causal=causal, ordering=ordering, backend="reference")
        return [out.detach(), *torch.autograd.grad(out, full, grad.to(dtype_))]

    ref = single(torch.float64)
    plain = single(dtype) if dtype != torch.float64 else None
    shard = functools.partial(sharding.shard_sequence, group=group, layout=layout)
    shards = [shard(t).to(dtype).requires_grad_() for t in (q, k, v)]
    SENT[0] = 0
    out = ringlib.ring.attention(*shards, pattern, group=group, causal=causal, ordering=ordering,
                                 layout=layout, backend=case.get("backend", "auto"))
    grads = torch.autograd.grad(out, shards, shard(grad).to(dtype))
    res = {"sent": SENT[0], "shard_bytes": shards[1].numel() * shards[1].element_size()}
    if n <= 64:  # the least traffic, from n x n masks
        res["minimum"] = traffic.minimum_bytes(
            pattern, n, heads, dist.get_world_size(group), batch=batch, head_dim=d, itemsize=shards[1].element_size(),
            layout=layout, causal=causal, ordering=ordering)[dist.get_rank(group)]
    key = (pattern, n, heads, ordering, dist.get_world_size(group), dist.get_rank(group), layout, causal)
    res["strategy"] = "masked" if (case.get("backend") == "reference" or not ringlib.dispatch.has_plan(pattern)
                                   or strided.build(*key) is None) else "strided"
    for i, (name, tested) in enumerate(zip(("out", "dq", "dk", "dv"), (out, *grads))):
        res[name] = (tested.double() - shard(ref[i])).abs().max().item()
        if plain is not None:
            res["plain_" + name] = (shard(plain[i]).double() - shard(ref[i])).abs().max().item()
    if layout == "contiguous" and case.get("public", False):  # the public entry point routes here
        public = ringlib.attention(*[s.detach() for s in shards], pattern, causal=causal, ordering=ordering,
                                   group=group)
        res["public"] = (public - out.detach()).abs().max().item()
    return res


def dropout(case, group):
    """Ring attention with seeded dropout vs one process (no group) with the same seed, in
    float64: output and q/k/v gradients. ``seed=None``: every rank seeds torch alike and the
    ring draws its seed; the single process is given the seed that draw gives."""
    pattern, n, heads, causal, layout = (case["pattern"], case["n"], case["heads"], case.get("causal", False),
                                         case.get("layout", "contiguous"))
    p, seed = case["p"], case.get("seed")
    q, k, v, grad = _inputs(2, n, heads, 8, torch.float64, 1)
    if seed is None:
        torch.manual_seed(11)
        drawn = ringlib.dropout.draw_seed()
        torch.manual_seed(11)
    full = [t.clone().requires_grad_() for t in (q, k, v)]
    single = ringlib.attention(*full, pattern, causal=causal, dropout_p=p,
                               dropout_seed=drawn if seed is None else seed)
    expected = [single.detach(), *torch.autograd.grad(single, full, grad)]
    undropped = ringlib.attention(q, k, v, pattern, causal=causal)
    shard = functools.partial(sharding.shard_sequence, group=group, layout=layout)
    shards = [shard(t).requires_grad_() for t in (q, k, v)]
    if seed is None:
        torch.manual_seed(11)
    out = ringlib.attention(*shards, pattern, group=group, causal=causal, dropout_p=p, dropout_seed=seed,
                            layout=layout) if layout == "contiguous" else ringlib.ring.attention(
        *shards, pattern, group=group, causal=causal, dropout_p=p, dropout_seed=seed, layout=layout)
    grads = torch.autograd.grad(out, shards, shard(grad))
    res = {name: (tested - shard(e)).abs().max().item()
           for name, tested, e in zip(("out", "dq", "dk", "dv"), (out, *grads), expected)}
    res["dropped"] = (single.detach() - undropped).abs().max().item()  # dropout did act
    return res


class _Tiny(torch.nn.Module):
    """Projections around several ring calls (one per pattern), summed: one compiled graph."""

    def __init__(self, patterns, heads, d, dim, group, dropout_p=0.0):
        super().__init__()
        self.patterns, self.heads, self.d, self.group, self.dropout_p = patterns, heads, d, group, dropout_p
        self.qkv = torch.nn.Linear(dim, 3 * heads * d, dtype=torch.float64)
        self.out = torch.nn.Linear(heads * d, dim, dtype=torch.float64)

    def forward(self, x, backend="auto"):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.d).unbind(2)
        y = sum(ringlib.attention(q, k, v, p, causal=True, group=self.group, backend=backend,
                                  dropout_p=self.dropout_p) for p in self.patterns)
        return self.out(y.flatten(2))


def compiled(case, group):
    """A module calling the ring, compiled with fullgraph=True (inductor): output, input and
    parameter gradients against the eager ring and the float64 single-process reference;
    graph breaks counted by ``torch._dynamo.explain``. Then a drawn dropout seed (aot_eager):
    compiled and eager ring equal when torch is seeded alike."""
    world, dim = dist.get_world_size(group), 8
    torch.manual_seed(0)
    model = _Tiny(case["patterns"], 2, 4, dim, group)
    x, grad = _inputs(1, case["n"], 1, dim, torch.float64, 2)[:2]
    x, grad = x.squeeze(2), grad.squeeze(2)
    shard = functools.partial(sharding.shard_sequence, group=group)

    def run(fn, xs, g, backend="auto", owner=model):
        xs = xs.clone().requires_grad_()
        out = fn(xs, backend) if backend != "auto" else fn(xs)
        grads = torch.autograd.grad(out, [xs, *owner.parameters()], g)
        return [out.detach(), *grads]

    model.group = None
    reference = run(model.forward, x, grad, "reference")  # one process, float64 reference backend
    model.group = group
    eager = run(model, shard(x), shard(grad))
    torch._dynamo.reset()
    fast = torch.compile(model, fullgraph=True)
    got = run(fast, shard(x), shard(grad))
    explained = torch._dynamo.explain(model)(shard(x))
    res = {"graph_breaks": explained.graph_break_count, "graphs": explained.graph_count,
           "ops": sum(str(node.target).startswith("ringlib.ring_attention") for gm in explained.graphs
                      for node in gm.graph.nodes)}
    for name, i in (("out", 0), ("dq", 1)):  # output and the input gradient: this rank's rows
        res[name] = (got[i] - shard(reference[i])).abs().max().item()
        res["eager_" + name] = (got[i] - eager[i]).abs().max().item()
    for t in got[2:]:  # parameter gradients: this rank's share, summed over ranks
        dist.all_reduce(t, group=group)
    res["dk"] = max((a - b).abs().max().item() for a, b in zip(got[2:], reference[2:]))
    drop = _Tiny([ringlib.Dense()], 2, 4, dim, group, dropout_p=0.3)
    drop.load_state_dict(model.state_dict())
    torch.manual_seed(11)
    eager = run(drop, shard(x), shard(grad), owner=drop)
    torch.manual_seed(11)
    got = run(torch.compile(drop, fullgraph=True, backend="aot_eager"), shard(x), shard(grad), owner=drop)
    res["dropout"] = max((a - b).abs().max().item() for a, b in zip(got, eager))
    drop.dropout_p = 0.0
    res["dropped"] = (got[0] - run(drop, shard(x), shard(grad), owner=drop)[0]).abs().max().item()  # dropout did act
    return res


def gather_roundtrip(case, group):
    x = torch.randn(2, case["n"], 3, 4, generator=torch.Generator().manual_seed(5)).requires_grad_()
    shard = sharding.shard_sequence(x.detach(), group, layout=case["layout"]).requires_grad_()
    full = sharding.gather_sequence(shard, group, layout=case["layout"])
    (grad,) = torch.autograd.grad((full * 2).sum(), shard)
    world = dist.get_world_size(group)
    return {"out": (full - x).abs().max().item(), "dq": (grad - 2 * world).abs().max().item()}


def mismatch(case, group):
    """Each rank perturbs its input as ``case["how"]`` says on rank 1; expects ValueError."""
    rank = dist.get_rank(group)
    n_local, heads, dtype = 8, 2, torch.float64
    if rank == 1 and case["how"] == "length":
        n_local = 6
    if rank == 1 and case["how"] == "heads":
        heads = 3
    if rank == 1 and case["how"] == "dtype":
        dtype = torch.float32
    pattern = ringlib.Dilated([4], [2]) if (rank == 1 and case["how"] == "pattern") else ringlib.Dense()
    q = torch.randn(1, n_local, heads, 4, dtype=dtype)
    drop = {}
    if case["how"] == "dropout_seed":  # a seed drawn from generators seeded differently
        torch.manual_seed(rank)
        drop = dict(dropout_p=0.1)
    ringlib.ring.attention(q, q, q, pattern, group=group, **drop)
    return {"out": 0.0}


def raise_mid_ring(case, group):
    """Rank 1 fails inside its first ring step; the others must error out, not hang."""
    from ringlib.ring import comm

    rank = dist.get_rank(group)
    if rank == 1:
        def broken(self):
            raise RuntimeError("injected failure on rank 1")

        comm.Transfer.wait = broken
    q = torch.randn(1, 8, 2, 4, dtype=torch.float64, requires_grad=True)
    try:
        ringlib.ring.attention(q, q, q, ringlib.Dense(), group=group)
    finally:
        if rank == 1:  # stay alive (a hung peer, not a dead one): the others must time out
            time.sleep(case["linger_s"])
    return {"out": 0.0}


def _reversed(m):
    return list(range(m - 1, -1, -1))


def _write(out_dir, rank, results):
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(results, f)


def fault(case, group):
    """Rank ``case["bad"]`` misbehaves as ``case["how"]`` says; every rank times its call
    of ``ringlib.attention`` and reports the error it ended with (type, message, the rank
    it names) or, where it succeeded, the error of its output shard."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    bad, how = rank == case.get("bad", 1), case["how"]
    # Dense: one ring through every rank; Dilated: segments of 16 span two ranks' shards
    pattern = ringlib.Dense() if how in ("hang in ring", "die in ring") else ringlib.Dilated([4, 16], [1, 2])
    ordering = None
    q, k, v = _inputs(1, 8 * world, 2, 4, torch.float64, 3)[:3]
    shards = [sharding.shard_sequence(t, group) for t in (q, k, v)]
    if how == "bad input" and bad:
        shards[0] = shards[0][:, :, :1]  # one head instead of two: a local ValueError
    if how == "stall before" and bad:
        time.sleep(case["sleep_s"])
    if how == "raise before" and bad:  # the user's code fails before the call; the process ends
        _write(case["out_dir"], rank, case["results"] + [{"label": case["label"], "died": True}])
        os._exit(1)
    if how in ("different orderings", "equal orderings"):  # two different callables either way
        ordering = _reversed if rank == 0 else (
            (lambda m: [*range(1, m), 0]) if how == "different orderings" else (lambda m: list(reversed(range(m)))))
    if how in ("hang in ring", "die in ring") and bad:
        posted = [0]

        def misbehave(self, send, what):
            posted[0] += 1
            if posted[0] == 2:  # the first ring step has been exchanged
                if how == "die in ring":
                    _write(case["out_dir"], rank, case["results"] + [{"label": case["label"], "died": True}])
                    os._exit(1)
                time.sleep(case["sleep_s"])
            return _post(self, send, what)

        comm.Ring.post = misbehave
    start = time.monotonic()
    try:
        out = ringlib.attention(*shards, pattern, group=group, ordering=ordering)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "elapsed": time.monotonic() - start,
                "failed_rank": getattr(exc, "rank", None)}
    expected = ringlib.attention(q, k, v, pattern, ordering=ordering)
    return {"elapsed": time.monotonic() - start,
            "out": (out - sharding.shard_sequence(expected, group)).abs().max().item()}


SCENARIOS = {}


def scenario(name):
    def register(fn):
        SCENARIOS[name] = fn
        return fn
    return register


def main() -> None:
    rank, world, init_file, out_dir, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    timeout = datetime.timedelta(seconds=float(os.environ.get("RING_TEST_TIMEOUT", "60")))
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world, timeout=timeout)
    from cases import CASES  # noqa: E402  (next to this file)

    results = []
    only = os.environ.get("RING_TEST_ONLY")  # a label, to debug one case
    for case in CASES[name](world):
        if only and case["label"] != only:
            continue
        kind = case.pop("kind", "exactness")
        label = case["label"] if kind == "fault" else case.pop("label")
        case.update(out_dir=out_dir, results=results)
        try:
            res = {"kind": kind, "label": label, **globals()[kind](case, dist.group.WORLD)}
        except Exception as exc:  # report, keep going (mismatch cases leave the group usable)
            res = {"kind": kind, "label": label, "error": f"{type(exc).__name__}: {exc}",
                   "trace": traceback.format_exc()[-2000:]}
        results.append(res)
        _write(out_dir, rank, results)
        if case.get("barrier"):  # the group must still work after the fault
            dist.barrier()
    if not any(r["kind"] in ("raise_mid_ring", "fault") for r in results):
        dist.destroy_process_group()
    os._exit(0)


if __name__ == "__main__":
    main()
