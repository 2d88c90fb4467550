"""intake replies: sender and thread of each message, whether it was answered and noticed

Revision ID: 0007_intake_replies
Revises: 0006_intake_identity
Create Date: 2026-12-01

The mail-loop limits count these rows (per sender address hash and per thread, in a window), so
they hold across restarts and across workers sharing the database. Hashes, not addresses: the
ledger holds identifiers only. Existing rows have no hashes and count for nothing.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007_intake_replies"
down_revision = "0006_intake_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_message") as batch_op:
        batch_op.add_column(sa.Column("sender_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("thread_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("answered", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("notice", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.create_index("ix_intake_message_sender", ["sender_hash", "processed_at"], unique=False)
        batch_op.create_index("ix_intake_message_thread", ["thread_hash", "processed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("intake_message") as batch_op:
        batch_op.drop_index("ix_intake_message_thread")
        batch_op.drop_index("ix_intake_message_sender")
        batch_op.drop_column("notice")
        batch_op.drop_column("answered")
        batch_op.drop_column("thread_hash")
        batch_op.drop_column("sender_hash")
