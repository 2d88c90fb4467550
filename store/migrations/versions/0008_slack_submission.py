"""case_file.submission_id: the form submission that opened a case (unique)

Revision ID: 0008_slack_submission
Revises: 0007_intake_replies
Create Date: 2026-12-01

A Slack "Open a case" modal carries a sealed submission id; recording it with the case, under a
unique index, makes a replayed or double-clicked submission return the case it opened instead of
opening another. NULL for cases opened any other way (several NULLs are allowed).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008_slack_submission'
down_revision = '0007_intake_replies'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_file_submission_id'), ['submission_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_file_submission_id'))
        batch_op.drop_column('submission_id')
