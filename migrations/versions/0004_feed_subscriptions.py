"""feed: webhook subscriptions, deliveries and delivery attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_subscriptions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("issuers", sa.JSON(), nullable=False),
        sa.Column("regimes", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("secret", sa.String(length=120), nullable=False),
        sa.Column("previous_secret", sa.String(length=120), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner"], ["participants.code"], name=op.f("fk_feed_subscriptions_owner_participants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_subscriptions")),
    )
    with op.batch_alter_table("feed_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_feed_subscriptions_owner", ["owner"], unique=False)

    op.create_table(
        "feed_deliveries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("msg_id", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("schedule_index", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"], ["feed_events.seq"], name=op.f("fk_feed_deliveries_seq_feed_events")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["feed_subscriptions.id"],
            name=op.f("fk_feed_deliveries_subscription_id_feed_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_deliveries")),
        sa.UniqueConstraint("subscription_id", "seq", name=op.f("uq_feed_deliveries_subscription_id")),
    )
    with op.batch_alter_table("feed_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_feed_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_feed_deliveries_subscription", ["subscription_id", "id"], unique=False)

    op.create_table(
        "feed_delivery_attempts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["feed_deliveries.id"],
            name=op.f("fk_feed_delivery_attempts_delivery_id_feed_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_delivery_attempts")),
    )
    with op.batch_alter_table("feed_delivery_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_feed_delivery_attempts_delivery", ["delivery_id", "number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feed_delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_delivery_attempts_delivery")

    op.drop_table("feed_delivery_attempts")
    with op.batch_alter_table("feed_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_deliveries_subscription")
        batch_op.drop_index("ix_feed_deliveries_due")

    op.drop_table("feed_deliveries")
    with op.batch_alter_table("feed_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_subscriptions_owner")

    op.drop_table("feed_subscriptions")
