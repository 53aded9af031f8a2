"""log: leaves, perfect nodes, sequence and tree head, checkpoints, witnesses, cosignatures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_INDEX = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('log_leaves',
    sa.Column('idx', _INDEX, autoincrement=False, nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('leaf_data', sa.LargeBinary(), nullable=False),
    sa.Column('integrated_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('idx', name=op.f('pk_log_leaves')),
    sa.UniqueConstraint('leaf_hash', name=op.f('uq_log_leaves_leaf_hash'))
    )
    op.create_table('log_nodes',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_log_nodes')),
    sqlite_with_rowid=False
    )
    sequence = op.create_table('log_sequence',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('next_index', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_sequence'))
    )
    head = op.create_table('log_tree_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_tree_head'))
    )
    op.create_table('log_checkpoints',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_log_checkpoints'))
    )
    op.create_table('log_witnesses',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('vkey', sa.String(length=400), nullable=False),
    sa.Column('participant_code', sa.String(length=16), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_code'], ['participants.code'], name=op.f('fk_log_witnesses_participant_code_participants')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_log_witnesses'))
    )
    op.create_table('log_cosignatures',
    sa.Column('witness_name', sa.String(length=200), nullable=False),
    sa.Column('checkpoint_size', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('signature_line', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_size'], ['log_checkpoints.size'], name=op.f('fk_log_cosignatures_checkpoint_size_log_checkpoints')),
    sa.ForeignKeyConstraint(['witness_name'], ['log_witnesses.name'], name=op.f('fk_log_cosignatures_witness_name_log_witnesses')),
    sa.PrimaryKeyConstraint('witness_name', 'checkpoint_size', name=op.f('pk_log_cosignatures'))
    )
    with op.batch_alter_table('log_cosignatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_cosignatures_checkpoint_size'), ['checkpoint_size'], unique=False)

    # The two singleton rows: nothing sequenced yet, the empty tree integrated (RFC 9162 §2.1.1:
    # MTH({}) = SHA-256 of the empty string). The size-0 checkpoint needs the log key, so the
    # server signs it at its first start.
    op.bulk_insert(sequence, [{'id': 1, 'next_index': 0}])
    op.bulk_insert(head, [{'id': 1, 'size': 0, 'root_hash': hashlib.sha256(b'').digest()}])


def downgrade() -> None:
    with op.batch_alter_table('log_cosignatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_cosignatures_checkpoint_size'))

    op.drop_table('log_cosignatures')
    op.drop_table('log_witnesses')
    op.drop_table('log_checkpoints')
    op.drop_table('log_tree_head')
    op.drop_table('log_sequence')
    op.drop_table('log_nodes')
    op.drop_table('log_leaves')
