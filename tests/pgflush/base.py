"""The production test stack's database backend: see the package docstring."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(
        self,
        style: Any,
        tables: Any,
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        if not tables or reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        # One round trip: psycopg runs several statements given without parameters.
        deletes = " ".join(f"DELETE FROM {self.quote_name(table)};" for table in tables)
        return [f"SET CONSTRAINTS ALL DEFERRED; {deletes}"]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
