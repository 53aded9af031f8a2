"""documents, chains, recipients, feed outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feed_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('next_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_head'))
    )
    op.create_table('documents',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('issuer', sa.String(length=16), nullable=False),
    sa.Column('regime', sa.String(length=32), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('jws_sha256', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('references_id', sa.String(length=64), nullable=True),
    sa.Column('chain_id', sa.String(length=64), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('integrated_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('log_index', sa.BigInteger(), nullable=False),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('vehicle_class', sa.String(length=16), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['issuer'], ['participants.code'], name=op.f('fk_documents_issuer_participants')),
    sa.ForeignKeyConstraint(['kid'], ['participant_keys.kid'], name=op.f('fk_documents_kid_participant_keys')),
    sa.ForeignKeyConstraint(['regime'], ['regimes.id'], name=op.f('fk_documents_regime_regimes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('jws_sha256', name=op.f('uq_documents_jws_sha256')),
    sa.UniqueConstraint('log_index', name=op.f('uq_documents_log_index'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_chain_id'), ['chain_id'], unique=False)
        batch_op.create_index('ix_documents_issuer_type', ['issuer', 'type'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_references_id'), ['references_id'], unique=False)
        batch_op.create_index('ix_documents_regime_type', ['regime', 'type'], unique=False)

    op.create_table('document_chains',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('issuer', sa.String(length=16), nullable=False),
    sa.Column('regime', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('current_id', sa.String(length=64), nullable=False),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('vehicle_class', sa.String(length=16), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['id'], ['documents.id'], name=op.f('fk_document_chains_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_chains'))
    )
    with op.batch_alter_table('document_chains', schema=None) as batch_op:
        batch_op.create_index('ix_document_chains_window', ['window_start'], unique=False)

    op.create_table('document_recipients',
    sa.Column('document_id', sa.String(length=64), nullable=False),
    sa.Column('participant_code', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_recipients_document_id_documents')),
    sa.ForeignKeyConstraint(['participant_code'], ['participants.code'], name=op.f('fk_document_recipients_participant_code_participants')),
    sa.PrimaryKeyConstraint('document_id', 'participant_code', name=op.f('pk_document_recipients'))
    )
    with op.batch_alter_table('document_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_document_recipients_participant', ['participant_code', 'document_id'], unique=False)

    op.create_table('feed_events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document_id', sa.String(length=64), nullable=True),
    sa.Column('addressee', sa.String(length=16), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('issuer', sa.String(length=16), nullable=True),
    sa.Column('regime', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['addressee'], ['participants.code'], name=op.f('fk_feed_events_addressee_participants')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_feed_events_document_id_documents')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_feed_events'))
    )
    with op.batch_alter_table('feed_events', schema=None) as batch_op:
        batch_op.create_index('ix_feed_events_addressee', ['addressee', 'seq'], unique=False)
        batch_op.create_index('ix_feed_events_document', ['document_id'], unique=False)
    feed_head = sa.table("feed_head", sa.column("id", sa.Integer), sa.column("next_seq", sa.BigInteger))
    op.bulk_insert(feed_head, [{"id": 1, "next_seq": 1}])


def downgrade() -> None:
    with op.batch_alter_table('feed_events', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_events_document')
        batch_op.drop_index('ix_feed_events_addressee')

    op.drop_table('feed_events')
    with op.batch_alter_table('document_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_document_recipients_participant')

    op.drop_table('document_recipients')
    with op.batch_alter_table('document_chains', schema=None) as batch_op:
        batch_op.drop_index('ix_document_chains_window')

    op.drop_table('document_chains')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_regime_type')
        batch_op.drop_index(batch_op.f('ix_documents_references_id'))
        batch_op.drop_index('ix_documents_issuer_type')
        batch_op.drop_index(batch_op.f('ix_documents_chain_id'))

    op.drop_table('documents')
    op.drop_table('feed_head')
