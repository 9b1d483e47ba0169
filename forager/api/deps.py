"""What routes depend on: bearer-token authentication by scope, the settings, the pagination
parameters, and the ``Idempotency-Key`` header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from forager.config import Settings, get_settings
from forager.enums import Scope
from forager.store import tokens

bearer = HTTPBearer(auto_error=False, description="A token from `forager tokens create NAME --scope SCOPE`.")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def need(scope: Scope) -> Callable[[HTTPAuthorizationCredentials | None], tokens.TokenInfo]:
    """A dependency answering the caller's token when it grants ``scope``; else 401 (no token,
    unknown or revoked) or 403 (a lower scope)."""

    def check(cred: Credentials) -> tokens.TokenInfo:
        if cred is None:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        info = tokens.verify(cred.credentials)
        if info is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        if not tokens.allows(info.scope, scope):
            raise HTTPException(403, f"this needs the {scope} scope; the token has {info.scope}")
        return info

    return check


Read = Annotated[tokens.TokenInfo, Depends(need(Scope.READ))]
Write = Annotated[tokens.TokenInfo, Depends(need(Scope.WRITE))]
Admin = Annotated[tokens.TokenInfo, Depends(need(Scope.ADMIN))]

SettingsDep = Annotated[Settings, Depends(get_settings)]
"""The settings of this request (read once per request; tests change them with ``reset_settings``)."""

Limit = Annotated[int, Query(ge=1, le=500)]
"""Items per page."""
Cursor = Annotated[str | None, Query(max_length=200)]
"""``next_cursor`` of the previous page."""

IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                       description="Retrying with the same key returns the same job(s).")]
UploadKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                         description="Retrying with the same key returns the same trajectory "
                                                     "and stores nothing twice.")]
