"""Data protection: child details encrypted at rest, legal hold, erasure

Revision ID: 0014_data_protection
Revises: 0013_teams_conversation
Create Date: 2026-12-01

- case_subject.name / date_of_birth / nhs_number / details, case_file.summary and
  milestone.note hold Fernet tokens (store/crypto.py): TEXT on PostgreSQL. On SQLite, which
  never enforces declared types, only case_subject is rebuilt (its date and JSON columns);
  case_file keeps its declared VARCHAR so no table other tables point at is rebuilt.
- Existing plaintext values are encrypted here when the process has a data key (``run`` and
  ``db upgrade`` load it from the settings); without one they stay readable as they are and
  ``safeguard-bot keys rotate`` encrypts them later (``doctor`` says how many are left).
- case_file.legal_hold (the reason) and case_file.erased_at: retention (issue 16).
"""
from __future__ import annotations

from contextlib import nullcontext

import sqlalchemy as sa
import sqlmodel
from alembic import op

from store import crypto

revision = '0014_data_protection'
down_revision = '0013_teams_conversation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_hold', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    if bind.dialect.name == 'sqlite':
        with op.batch_alter_table('case_subject', schema=None) as batch_op:
            batch_op.alter_column('date_of_birth', type_=sa.Text(), existing_nullable=True)
            batch_op.alter_column('details', type_=sa.Text(), existing_nullable=False,
                                  existing_server_default='{}')
    else:
        for table, column in (('case_subject', 'name'), ('case_subject', 'date_of_birth'),
                              ('case_subject', 'nhs_number'), ('case_subject', 'details'),
                              ('case_file', 'summary'), ('milestone', 'note')):
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE TEXT USING {column}::text')
    if crypto.has_key():
        crypto.rotate_batches(lambda: nullcontext(bind))


def downgrade() -> None:
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
        batch_op.drop_column('legal_hold')
