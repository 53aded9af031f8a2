"""foundation: participants, keys, tokens, regimes

Revision ID: 0001
Revises: 
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('participants',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('contact', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_participants'))
    )
    op.create_table('regimes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('multilateral', sa.Boolean(), nullable=False),
    sa.Column('confidential', sa.Boolean(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('boundary', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regimes'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('participant_code', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['participant_code'], ['participants.code'], name=op.f('fk_api_tokens_participant_code_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_participant_code'), ['participant_code'], unique=False)

    op.create_table('participant_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('participant_code', sa.String(length=16), nullable=False),
    sa.Column('jwk', sa.JSON(), nullable=False),
    sa.Column('family', sa.String(length=16), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.Column('added_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_code'], ['participants.code'], name=op.f('fk_participant_keys_participant_code_participants')),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_participant_keys'))
    )
    with op.batch_alter_table('participant_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participant_keys_participant_code'), ['participant_code'], unique=False)
        batch_op.create_index('ix_participant_keys_participant_created', ['participant_code', 'created_at'], unique=False)

    op.create_table('regime_auditors',
    sa.Column('regime_id', sa.String(length=32), nullable=False),
    sa.Column('participant_code', sa.String(length=16), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_code'], ['participants.code'], name=op.f('fk_regime_auditors_participant_code_participants')),
    sa.ForeignKeyConstraint(['regime_id'], ['regimes.id'], name=op.f('fk_regime_auditors_regime_id_regimes')),
    sa.PrimaryKeyConstraint('regime_id', 'participant_code', name=op.f('pk_regime_auditors'))
    )
    op.create_table('regime_memberships',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('regime_id', sa.String(length=32), nullable=False),
    sa.Column('participant_code', sa.String(length=16), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['participant_code'], ['participants.code'], name=op.f('fk_regime_memberships_participant_code_participants')),
    sa.ForeignKeyConstraint(['regime_id'], ['regimes.id'], name=op.f('fk_regime_memberships_regime_id_regimes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regime_memberships'))
    )
    with op.batch_alter_table('regime_memberships', schema=None) as batch_op:
        batch_op.create_index('ix_regime_memberships_participant', ['participant_code'], unique=False)
        batch_op.create_index('ix_regime_memberships_regime_participant', ['regime_id', 'participant_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('regime_memberships', schema=None) as batch_op:
        batch_op.drop_index('ix_regime_memberships_regime_participant')
        batch_op.drop_index('ix_regime_memberships_participant')

    op.drop_table('regime_memberships')
    op.drop_table('regime_auditors')
    with op.batch_alter_table('participant_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_participant_keys_participant_created')
        batch_op.drop_index(batch_op.f('ix_participant_keys_participant_code'))

    op.drop_table('participant_keys')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_participant_code'))

    op.drop_table('api_tokens')
    op.drop_table('regimes')
    op.drop_table('participants')
