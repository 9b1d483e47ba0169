"""Connections to the registry: one engine per database URL, the schema brought to the newest
migration on first use, and ``session()``, the one way code reads and writes rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from forager.config import get_settings
from forager.errors import NotFound
from forager.store.models import Farm

MIGRATIONS = Path(__file__).resolve().parents[2] / "registry"
"""The Alembic environment and revisions."""


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


@lru_cache
def engine_for(url: str) -> Engine:
    """The engine of ``url`` (one per URL per process; ``reset_engines`` forgets them)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def reset_engines() -> None:
    """Forget every engine (a forked worker must not share its parent's connection pool)."""
    engine_for.cache_clear()
    _maker.cache_clear()


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with engine_for(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_ready: set[str] = set()
_upgrading = threading.Lock()
"""Threads of one process (a request and a background sweep) never upgrade one schema twice at once."""


def engine() -> Engine:
    """The engine of the configured database, its schema upgraded once per process."""
    url = get_settings().resolved_database_url()
    if url not in _ready:
        with _upgrading:
            if url not in _ready:
                upgrade(url)
                _ready.add(url)
    return engine_for(url)


@lru_cache
def _maker(bound: Engine) -> sessionmaker[Session]:
    """One session factory per engine: making one per session set up SQLAlchemy's events again each
    time (a quarter of a millisecond of every registry read or write)."""
    return sessionmaker(bound, expire_on_commit=False)


@contextmanager
def session() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with _maker(engine())() as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise


RowT = TypeVar("RowT")


def get_or_missing(s: Session, model: type[RowT], key: str, what: str) -> RowT:
    """The row of ``model`` with primary key ``key``; ``NotFound("no WHAT 'KEY'")`` if there is none."""
    row = s.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key!r}")
    return row


def get_detached(model: type[RowT], key: str) -> RowT | None:
    """The row of ``model`` with primary key ``key``, detached from its session, or None."""
    with session() as s:
        row = s.get(model, key)
        if row is not None:
            s.expunge(row)
        return row


@lru_cache
def _farm_id(url: str) -> str:
    with session() as s:
        row = s.query(Farm).first()
        return row.id if row is not None else "0"


def farm_id() -> str:
    """This farm's short random id (one per registry database)."""
    return _farm_id(get_settings().resolved_database_url())
