"""The evidence of a campaign run: funnel, throughput, disk and failure causes, as one JSON file.

    FORAGER_HOME=... .venv/bin/python benchmarks/campaign_evidence.py NAME [--out FILE]

Disk: ``own`` is each image's layers no other image shares (the repository layer); the dependency
layers the campaign's images stand on are counted once each, and the base image once, so
``total_bytes`` is what the campaign's images occupy on the engine together.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forager.campaign.disk import image_sizes  # noqa: E402
from forager.campaign.funnel import report  # noqa: E402
from forager.runtime import get_runtime  # noqa: E402
from forager.store import campaigns as rows  # noqa: E402


def _layers(client: object, ref: str) -> tuple[str, ...]:
    return tuple(client.images.get(ref).attrs.get("RootFS", {}).get("Layers") or [])  # type: ignore[attr-defined]


def disk(campaign_id: str) -> dict[str, object]:
    client = get_runtime().client  # type: ignore[attr-defined]
    sizes = image_sizes()
    images = [i for i in rows.campaign_images(campaign_id) if i in sizes]
    own = [sizes[i]["unique"] for i in images]
    deps = {t: _layers(client, t) for t in sizes if t.startswith("forager/deps:")}
    used_deps: set[str] = set()
    for img in images:
        chain = _layers(client, img)
        best = max((t for t, ls in deps.items() if ls and chain[:len(ls)] == ls), key=lambda t: len(deps[t]),
                   default=None)
        if best:
            used_deps.add(best)
    bases = {t: _layers(client, t) for t in sizes if t.startswith("forager/base:")}

    def base_of(ls: tuple[str, ...]) -> str | None:
        return next((b for b, bl in bases.items() if bl and ls[:len(bl)] == bl), None)

    used_bases = {b for t in used_deps if (b := base_of(deps[t]))}
    deps_bytes = sum(sizes[t]["size"] - sizes[b]["size"] for t in used_deps if (b := base_of(deps[t])))
    base_bytes = sum(sizes[b]["size"] for b in used_bases)
    return {"images": len(images), "own_bytes_total": sum(own),
            "own_bytes_median": int(statistics.median(own)) if own else 0,
            "deps_layers": len(used_deps), "deps_bytes": deps_bytes, "base_bytes": base_bytes,
            "total_bytes": sum(own) + deps_bytes + base_bytes,
            "total_bytes_per_image": int((sum(own) + deps_bytes + base_bytes) / len(images)) if images else 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "campaign_evidence.json"))
    args = ap.parse_args()
    out = report(args.name)
    out["disk"] = disk(out["id"])
    Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(json.dumps({k: out[k] for k in ("versions", "images_validated", "builds_failed", "tasks", "episodes",
                                          "episodes_resolved", "images_per_hour", "tasks_per_hour", "disk")},
                     indent=2))


if __name__ == "__main__":
    main()
