"""mail_sync_state: the Microsoft Graph delta link per mailbox

Revision ID: 0010_mail_sync_state
Revises: 0009_case_answers
Create Date: 2026-12-01

The Graph backend reads a mail folder with delta queries; the delta link at the end of a
complete round is kept here so a restart resumes from it instead of re-reading the folder.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010_mail_sync_state'
down_revision = '0009_case_answers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mail_sync_state',
        sa.Column('mailbox', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('folder', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('delta_link', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('mailbox'),
    )


def downgrade() -> None:
    op.drop_table('mail_sync_state')
