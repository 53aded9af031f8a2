"""documents: the references index holds only documents that refer to something

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08

``ix_documents_references_id`` had an entry for every document, NULL for each pre-launch
notification and annual declaration, which refer to nothing and are never looked up by it: the
lookups are ``references_id = id`` and ``references_id IN (...)``, which both databases answer
from a partial index ``WHERE references_id IS NOT NULL``. Measured on PostgreSQL (two workers,
``bench/submit.py``, pre-launch notifications): one B-tree insert of the sixteen a document costs
in the submission batch's write statement, which runs under the log counter's lock.
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_REFERS = sa.text("references_id IS NOT NULL")


def upgrade() -> None:
    # In place on both databases (no batch mode: SQLite creates and drops indexes without copying).
    op.drop_index("ix_documents_references_id", table_name="documents")
    op.create_index(
        "ix_documents_references_id",
        "documents",
        ["references_id"],
        unique=False,
        postgresql_where=_REFERS,
        sqlite_where=_REFERS,
    )


def downgrade() -> None:
    op.drop_index("ix_documents_references_id", table_name="documents")
    op.create_index("ix_documents_references_id", "documents", ["references_id"], unique=False)
