"""Outbox message bodies encrypted at rest

Revision ID: 0015_outbox_encrypted
Revises: 0014_data_protection
Create Date: 2026-12-01

- outbox.body holds a Fernet token (store/crypto.py EncryptedText, required=False) whenever a
  data key is configured: a rapid-review request to an agency carries the child's name and date
  of birth when the partnership shares them, and a message waits in this table until delivered
  (and stays after, as the record of what was sent). TEXT on both databases; the outbox is
  referenced by no other table, so SQLite's table rebuild is safe.
- Bodies already stored are encrypted here when the process has a data key; without one they
  stay as written and ``safeguard-bot keys rotate`` encrypts them later.
"""
from __future__ import annotations

from contextlib import nullcontext

import sqlalchemy as sa
import sqlmodel
from alembic import op

from store import crypto

revision = '0015_outbox_encrypted'
down_revision = '0014_data_protection'
branch_labels = None
depends_on = None

_COLUMNS = (("outbox", "id", ("body",)),)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        with op.batch_alter_table('outbox', schema=None) as batch_op:
            batch_op.alter_column('body', type_=sa.Text(), existing_nullable=False)
    else:
        op.execute('ALTER TABLE outbox ALTER COLUMN body TYPE TEXT USING body::text')
    if crypto.has_key():
        crypto.rotate_batches(lambda: nullcontext(bind), columns=_COLUMNS)


def downgrade() -> None:
    # Bodies stay encrypted (the model reads either form); only the declared type goes back.
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('body', type_=sqlmodel.sql.sqltypes.AutoString(), existing_nullable=False)
