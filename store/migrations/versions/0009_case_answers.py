"""case_file: criteria answers, decision, also_notify and the notifying local authority

Revision ID: 0009_case_answers
Revises: 0008_slack_submission
Create Date: 2026-12-01

A case knows the criteria answers it was opened or assessed with and the decision the criteria
engine gave (the steps that run follow from them: notify, not_required, the Secretary of State
and Ofsted notification), and which of its partnership's local authorities notifies. All NULL
for cases opened before, which keep their behaviour.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009_case_answers'
down_revision = '0008_slack_submission'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('criteria_answers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('also_notify', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('local_authority', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_column('local_authority')
        batch_op.drop_column('also_notify')
        batch_op.drop_column('decision')
        batch_op.drop_column('criteria_answers')
