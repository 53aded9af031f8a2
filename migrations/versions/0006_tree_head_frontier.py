"""log: the tree head row carries its compact range (frontier)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: existing heads get theirs at the next integration (read from the nodes once).
    with op.batch_alter_table('log_tree_head') as batch_op:
        batch_op.add_column(sa.Column('frontier', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('log_tree_head') as batch_op:
        batch_op.drop_column('frontier')
