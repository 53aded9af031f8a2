"""PostgreSQL: the foreign keys of a submission's rows are checked by the service, not the schema

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

The submission batch writes its documents, chains and feed events in one statement while it holds
the log counter's lock, so everything that statement costs, every other writer waits for. Five
foreign keys were checked there per document: the document's issuer, key and regime, and the chain
and the feed event that point back at the document inserted by the same statement. Each check is
a lookup that takes a KEY SHARE lock on the referenced row, and such a lock is WAL-logged: about
two WAL records per document (``pg_waldump``), besides the lookups. Measured on PostgreSQL with
``bench/submit.py``'s load generator against the exchange alone (two workers, 32 clients, five
interleaved pairs of runs): 1,528-2,009 accepted/s with the keys, 1,640-2,018 without, medians
about 1,700 and 1,890 (docs/decisions.md).

What they guarded is checked in the same transaction: the issuer is the authenticated participant,
the key (with its validity) and the regime are read by the batch, and the chain and the feed
event are written with their document; participants, keys, regimes and documents are never
deleted. SQLite keeps the keys (one writer, no lock held up; dropping them there would copy
tables that other tables reference). ``app.db.service_checked_key`` marks them in the models.
"""

from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# (table, constraint, column, referred table, referred column)
_KEYS = [
    ('documents', 'fk_documents_issuer_participants', 'issuer', 'participants', 'code'),
    ('documents', 'fk_documents_regime_regimes', 'regime', 'regimes', 'id'),
    ('documents', 'fk_documents_kid_participant_keys', 'kid', 'participant_keys', 'kid'),
    ('document_chains', 'fk_document_chains_id_documents', 'id', 'documents', 'id'),
    ('feed_events', 'fk_feed_events_document_id_documents', 'document_id', 'documents', 'id'),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, name, _, _, _ in _KEYS:
        op.drop_constraint(name, table, type_='foreignkey')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, name, column, referred, referred_column in _KEYS:
        op.create_foreign_key(name, table, referred, [column], [referred_column])
