"""Outbox messages (body and payload) encrypted at rest

Revision ID: 0015_outbox_encrypted
Revises: 0014_data_protection
Create Date: 2026-12-01

- outbox.body and outbox.payload hold Fernet tokens (store/crypto.py EncryptedText and
  EncryptedJSON, required=False) whenever a data key is configured: a rapid-review request to an
  agency carries the child's name and date of birth when the partnership shares them, a
  partner's sign-off request attaches the draft report (in the payload), and a message waits in
  this table until delivered (and stays after, as the record of what was sent). TEXT on both
  databases (payload was JSON: nothing queries inside it); the outbox is referenced by no other
  table, so SQLite's table rebuild is safe.
- Messages already stored are encrypted here when the process has a data key; without one they
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

_COLUMNS = (("outbox", "id", ("body", "payload")),)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        with op.batch_alter_table('outbox', schema=None) as batch_op:
            batch_op.alter_column('body', type_=sa.Text(), existing_nullable=False)
            batch_op.alter_column('payload', type_=sa.Text(), existing_nullable=False)
    else:
        op.execute('ALTER TABLE outbox ALTER COLUMN body TYPE TEXT USING body::text')
        op.execute('ALTER TABLE outbox ALTER COLUMN payload TYPE TEXT USING payload::text')
    if crypto.has_key():
        crypto.rotate_batches(lambda: nullcontext(bind), columns=_COLUMNS)


def downgrade() -> None:
    # Values stay encrypted (the model reads either form), so payload stays TEXT; only the
    # body's declared type goes back.
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('body', type_=sqlmodel.sql.sqltypes.AutoString(), existing_nullable=False)
