"""The image catalogue: each validated (or failed) repository image's row with its recipe and
per-test results, and the queries the CLI and task generation read it with (those live in
``forager.store.build_records`` and are re-exported here)."""

from __future__ import annotations

from forager.build.recipe import Recipe
from forager.build.sources.base import Source
from forager.runtime import get_runtime
from forager.store.build_records import list_images, passing_tests, save_image, show_image

__all__ = ["list_images", "passing_tests", "record_image", "show_image"]


def record_image(image: str, build_id: str, repository_id: str, status: str, recipe: Recipe, src: Source) -> None:
    """Add (or replace) the catalogue row of a built image."""
    rt = get_runtime()
    save_image(dict(
        id=image, build_id=build_id, repository_id=repository_id, digest=rt.image_digest(image) or "",
        source=src.spec, commit=src.commit, python=recipe.python, recipe=recipe.to_dict(),
        test_command=recipe.full_test_command(), status=status, size_bytes=rt.image_size(image)))
