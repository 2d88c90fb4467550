"""teams_conversation: the conversation references Teams sends when the app is installed

Revision ID: 0013_teams_conversation
Revises: 0012_rapid_review
Create Date: 2026-12-01

Proactive messages (case notices, reminders, the digest) go to a partnership's Teams channel
at the service URL Teams gave for it when the app was installed in the team.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013_teams_conversation'
down_revision = '0012_rapid_review'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'teams_conversation',
        sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('service_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('conversation_id'),
    )


def downgrade() -> None:
    op.drop_table('teams_conversation')
