"""documents: a ["*"] document reads its recipients from the membership history

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

``documents.broadcast`` marks a document addressed with ``["*"]``: its recipients are the members
of its regime when it was accepted, which ``regime_memberships`` (one row per membership period)
already records. Until now each such document stored a recipient row per member: with the 140-odd
subscribing states of the HCoC, 139 rows (and index entries) per notification, the largest part of
what a submission writes. Documents accepted before this revision keep their rows and their
``broadcast`` stays false: nothing already accepted is altered, and both forms read the same.

Downgrade writes the rows for broadcast documents from the membership history, as acceptance did.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not batch mode (see downgrade): both databases add a column with a default in place.
    op.add_column('documents', sa.Column('broadcast', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.execute(
        'INSERT INTO document_recipients (document_id, participant_code) '
        'SELECT d.id, m.participant_code FROM documents d JOIN regime_memberships m '
        'ON m.regime_id = d.regime AND m.participant_code <> d.issuer AND m.joined_at <= d.received_at '
        'AND (m.left_at IS NULL OR m.left_at > d.received_at) WHERE d.broadcast'
    )
    # Not batch mode: on SQLite that copies the table, and dropping the old copy fails once
    # chains and feed events reference its rows. SQLite (3.35 and later) drops a column in place.
    op.drop_column('documents', 'broadcast')
