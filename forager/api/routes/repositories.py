"""``/v1/repositories``: the sources the farm knows."""

from __future__ import annotations

from fastapi import APIRouter, Response

from forager.api.deps import Cursor, Limit, Read, Write
from forager.api.schemas import Page, RepositoryIn, RepositoryOut
from forager.api.sources import check_source
from forager.store import repositories

router = APIRouter(prefix="/v1/repositories", tags=["repositories"])


@router.get("", response_model=Page[RepositoryOut])
def list_repositories(_: Read, limit: Limit = 50, cursor: Cursor = None,
                      kind: str | None = None) -> Page[RepositoryOut]:
    rows, nxt = repositories.list_repositories(limit, cursor, kind=kind)
    return Page(items=[RepositoryOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("", response_model=RepositoryOut, status_code=201,
             responses={200: {"model": RepositoryOut, "description": "Already known"}})
def add_repository(body: RepositoryIn, token: Write, response: Response) -> RepositoryOut:
    kind, name, source = check_source(body.source, token)
    row, created = repositories.add(source, name, kind)
    if not created:
        response.status_code = 200
    return RepositoryOut.model_validate(row)


@router.get("/{repository_id}", response_model=RepositoryOut)
def show_repository(repository_id: str, _: Read) -> RepositoryOut:
    return RepositoryOut.model_validate(repositories.find(repository_id))
