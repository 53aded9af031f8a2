"""documents: recipient rows without foreign keys; document rows stored uncompressed in place

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Why (docs/decisions.md, "The write statement"): in the one statement a submission batch writes,
measured with EXPLAIN ANALYZE on PostgreSQL (bench/submit.py load, 2 workers), the two foreign
keys of ``document_recipients`` cost 109 of 413 µs per document, more than the rows themselves:
each check is a lookup that takes a KEY SHARE lock on the participant's and the document's row,
and a document addressed with ``["*"]`` has a recipient row per member. Neither key can be
broken by the application: documents and participants are never deleted, the recipient rows are
written in the same statement as their document, and every code is a member checked in the same
transaction. The documents' own keys (issuer, key, regime) stay.

A document row (the JWS plus its parsed payload, about 2.5 KB) is just over PostgreSQL's 2 KB
TOAST threshold, so every insert compressed it (pglz) and every read decompressed it:
``toast_tuple_target = 8160`` keeps rows up to a page in place, uncompressed (-19 µs per insert).
"""

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('document_recipients') as batch_op:
        batch_op.drop_constraint('fk_document_recipients_document_id_documents', type_='foreignkey')
        batch_op.drop_constraint('fk_document_recipients_participant_code_participants', type_='foreignkey')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE documents SET (toast_tuple_target = 8160)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE documents RESET (toast_tuple_target)')
    with op.batch_alter_table('document_recipients') as batch_op:
        batch_op.create_foreign_key(
            'fk_document_recipients_document_id_documents', 'documents', ['document_id'], ['id']
        )
        batch_op.create_foreign_key(
            'fk_document_recipients_participant_code_participants', 'participants', ['participant_code'], ['code']
        )
