"""mail intake ledger

Revision ID: 0005_intake
Revises: 0004
Create Date: 2026-11-26
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005_intake'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'intake_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('sender_domain', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column('mailbox', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case_file.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
    )
    with op.batch_alter_table('intake_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_message_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_message_content_hash'), ['content_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('intake_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_message_content_hash'))
        batch_op.drop_index(batch_op.f('ix_intake_message_case_id'))
    op.drop_table('intake_message')
