"""Case management: corrections, ends of cases and siblings

Revision ID: 0011_case_management
Revises: 0010_mail_sync_state
Create Date: 2026-12-01

- milestone.voided_at / void_reason: a milestone recorded in error is voided, never deleted
  (the audit log and the case's history keep it); voided milestones count for nothing.
- milestone.amended_from: the date first recorded, when a wrong date was amended.
- case_file.status_reason / status_changed_at: why and when a case was closed, withdrawn or
  reopened (the audit log has every change; these are what ``case show`` prints).
- case_subject.case_id is no longer unique: one incident may involve several children.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011_case_management'
down_revision = '0010_mail_sync_state'
branch_labels = None
depends_on = None

# SQLite's reflected case_subject has an unnamed UNIQUE(case_id): the convention names it so
# batch mode can drop it. PostgreSQL named it itself.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('amended_from', sa.Date(), nullable=True))
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('case_subject', schema=None, naming_convention=_NAMING) as batch_op:
            batch_op.drop_constraint('uq_case_subject_case_id', type_='unique')
            batch_op.create_index(batch_op.f('ix_case_subject_case_id'), ['case_id'], unique=False)
    else:
        op.drop_constraint('case_subject_case_id_key', 'case_subject', type_='unique')
        op.create_index(op.f('ix_case_subject_case_id'), 'case_subject', ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_subject', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_subject_case_id'))
        batch_op.create_unique_constraint('uq_case_subject_case_id', ['case_id'])
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_column('status_changed_at')
        batch_op.drop_column('status_reason')
    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.drop_column('amended_from')
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voided_at')
