"""Work dealt out over side-by-side workers: each item, in the order given (the dearest first, as
callers sort them), goes to the worker with the least work so far."""

from __future__ import annotations


def deal(costs: list[float], n: int) -> list[list[int]]:
    """The indexes of ``costs`` in up to ``n`` shares, each share in the given order; no empty share."""
    shares: list[list[int]] = [[] for _ in range(max(1, n))]
    load = [0.0] * len(shares)
    for i, cost in enumerate(costs):
        w = load.index(min(load))
        shares[w].append(i)
        load[w] += cost
    return [share for share in shares if share]
