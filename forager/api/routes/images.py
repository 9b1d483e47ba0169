"""``/v1/images``: validated images (by tag) with their recipe and test counts."""

from __future__ import annotations

from fastapi import APIRouter

from forager.api.deps import Cursor, Limit, Read
from forager.api.schemas import ImageDetail, ImageOut, Page
from forager.store import images

router = APIRouter(prefix="/v1/images", tags=["images"])


@router.get("", response_model=Page[ImageOut])
def list_images(_: Read, limit: Limit = 50, cursor: Cursor = None, repository_id: str | None = None,
                status: str | None = None, python: str | None = None) -> Page[ImageOut]:
    rows, nxt = images.list_images(limit, cursor, repository_id=repository_id, status=status, python=python)
    return Page(items=[ImageOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/{image_id:path}", response_model=ImageDetail,
            description="The image id is its tag, e.g. `forager/minipkg:abc123` (slashes allowed).")
def show_image(image_id: str, _: Read) -> ImageDetail:
    row, tests = images.detail(image_id)
    return ImageDetail.model_validate({**ImageOut.model_validate(row).model_dump(), "recipe": row.recipe,
                                       "tests": tests})
