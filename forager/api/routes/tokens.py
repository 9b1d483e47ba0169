"""``/v1/tokens``: create, list and revoke API tokens (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from forager.api.deps import Admin
from forager.api.schemas import NewToken, TokenIn, TokenOut
from forager.errors import NotFound
from forager.store import tokens

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.post("", response_model=NewToken, status_code=201)
def create_token(body: TokenIn, _: Admin) -> NewToken:
    token, info = tokens.create(body.name, body.scope)
    return NewToken(token=token, **info.__dict__)


@router.get("", response_model=list[TokenOut])
def list_tokens(_: Admin) -> list[TokenOut]:
    return [TokenOut(**t.__dict__) for t in tokens.list_tokens()]


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, _: Admin) -> Response:
    if not tokens.revoke(token_id):
        raise NotFound(f"no token {token_id!r}")
    return Response(status_code=204)
