"""One connection pool per process and database, shared by every store that process opens."""

from __future__ import annotations

import os
import threading

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

Pool = ConnectionPool[psycopg.Connection[DictRow]]


class DatabaseUnavailable(RuntimeError):
    """The database named by AHA_DB cannot be reached; the message says where and why."""


_pools: dict[tuple[int, str], Pool] = {}
_lock = threading.Lock()


def where(url: str) -> str:
    """host:port/dbname of a URL, for messages: never its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unreadable URL"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or ''}"


def shared_pool(url: str, size: int) -> Pool:
    """The process's pool for `url`, opened on first use; `size` caps its connections.

    Connections are in autocommit: a statement commits on its own, and a store opens
    `connection.transaction()` where several statements must land together.
    """
    key = (os.getpid(), url)  # a pool's threads do not survive a fork
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = ConnectionPool(
                url,
                min_size=1,
                max_size=size,
                kwargs={"autocommit": True, "row_factory": dict_row},
                connection_class=psycopg.Connection[DictRow],
                check=ConnectionPool.check_connection,  # a restarted server costs no error
                name=f"aha {where(url)}",
                open=True,
            )
            _pools[key] = pool
    return pool


def close_pools() -> None:
    """Close every pool this process opened (tests that make a database per test)."""
    with _lock:
        pools = [pool for (pid, _), pool in _pools.items() if pid == os.getpid()]
        _pools.clear()
    for pool in pools:
        pool.close()


def connect_once(url: str) -> psycopg.Connection[DictRow]:
    """A single connection outside the pool (schema checks, migrations), with a clear error."""
    try:
        return psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as err:
        raise DatabaseUnavailable(
            f"AHA_DB: cannot connect to PostgreSQL at {where(url)}: {str(err).strip()}"
        ) from err
