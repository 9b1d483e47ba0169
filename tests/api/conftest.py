"""The API tests' shared fixture: an app on a fresh registry with a token of each scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_client import Api, open_api


@pytest.fixture
def api() -> Iterator[Api]:
    with open_api() as opened:
        yield opened
