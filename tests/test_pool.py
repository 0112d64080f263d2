"""The PostgreSQL connection pool outlives the threads that use it (Starlette's and the hooks'
threads come and go); skipped without PostgreSQL, a failure in CI."""
# The test names say what each test checks; a docstring would repeat them.
# pylint: disable=missing-function-docstring

from __future__ import annotations

import threading

from gitserver.core.models import ThreadPool, database, init_db

from .support import drop_postgres_database, fresh_postgres_database, postgres_url


def test_threads_that_end_without_closing_give_their_connections_back() -> None:
    url, name = fresh_postgres_database(postgres_url())
    try:
        db = init_db(url)
        assert isinstance(db, ThreadPool)

        def query_and_end() -> None:  # as a request thread: a query, no close, then it ends
            assert database.execute_sql("SELECT 1").fetchone() == (1,)
        for _ in range(40):  # more threads than the pool's 32 connections
            thread = threading.Thread(target=query_and_end)
            thread.start()
            thread.join()
        assert len(db._in_use) <= 1  # pylint: disable=protected-access  # the pool's own count
        assert database.execute_sql("SELECT 2").fetchone() == (2,)
    finally:
        database.close()
        db.close_all()
        drop_postgres_database(postgres_url(), name)
