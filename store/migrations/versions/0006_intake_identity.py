"""intake identity: Message-ID and a hash of the message, not the Message-ID alone

Revision ID: 0006_intake_identity
Revises: 0005_intake
Create Date: 2026-12-01

A Message-ID is the sender's claim. Unique on its own, it let a different message that reused
one (a careless client, or spam quarantined first) vanish as a "duplicate". The identity is now
(message_id, message_sha256); existing rows keep a NULL hash and still match on the Message-ID.
Downgrading fails if two rows share a Message-ID by then (restoring the old constraint would
lose one of them); that is deliberate.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006_intake_identity"
down_revision = "0005_intake"
branch_labels = None
depends_on = None

# 0005 created the Message-ID unique constraint without a name. PostgreSQL named it itself;
# SQLite's batch mode (which rebuilds the table) needs a convention to address it.
_PG_OLD_UNIQUE = "intake_message_message_id_key"
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if not sqlite:
        op.drop_constraint(_PG_OLD_UNIQUE, "intake_message", type_="unique")
    with op.batch_alter_table("intake_message", naming_convention=_SQLITE_NAMES if sqlite else None) as batch_op:
        if sqlite:
            batch_op.drop_constraint("uq_intake_message_message_id", type_="unique")
        batch_op.add_column(sa.Column("message_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_intake_message_message_id"), ["message_id"], unique=False)
        batch_op.create_unique_constraint("uq_intake_message_identity", ["message_id", "message_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("intake_message") as batch_op:
        batch_op.drop_constraint("uq_intake_message_identity", type_="unique")
        batch_op.drop_index(batch_op.f("ix_intake_message_message_id"))
        batch_op.drop_column("message_sha256")
        batch_op.create_unique_constraint(
            _PG_OLD_UNIQUE if op.get_bind().dialect.name != "sqlite" else "uq_intake_message_message_id",
            ["message_id"],
        )
