"""Run a test's assertions with the database migrated back to an earlier state, and forward
to the latest one again afterwards (even when the block fails, so later tests see the schema
they expect). For tests marked `django_db(transaction=True)`: migrations need no outer
transaction."""

from contextlib import contextmanager

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@contextmanager
def migrated_back_to(app: str, migration: str):
    MigrationExecutor(connection).migrate([(app, migration)])
    try:
        yield
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
