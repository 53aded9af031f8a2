"""reports: the ledger of sent reminders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_reminders',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('participant', sa.String(length=16), nullable=False),
    sa.Column('regime', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'participant', 'regime', 'key', name=op.f('pk_report_reminders'))
    )


def downgrade() -> None:
    op.drop_table('report_reminders')
