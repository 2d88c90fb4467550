"""rapid review as a run process: the review, its agencies and their returned files, sign-offs

Revision ID: 0012_rapid_review
Revises: 0011_case_management
Create Date: 2026-12-01

Issue 14: a case's rapid review (steps planned at its start, meeting, draft, sent to the Panel),
each agency asked for its summary of involvement (requested, due, returned, chased,
escalated), the files an agency returned, and the safeguarding partners' sign-offs.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012_rapid_review'
down_revision = '0011_case_management'
branch_labels = None
depends_on = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        'rapid_review',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('token', _s(24), nullable=False),
        sa.Column('started_on', sa.Date(), nullable=False),
        sa.Column('started_by', _s(120), nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('done', sa.JSON(), nullable=False),
        sa.Column('meeting_on', sa.Date(), nullable=True),
        sa.Column('draft_on', sa.Date(), nullable=True),
        sa.Column('sent_on', sa.Date(), nullable=True),
        sa.Column('sent_reason', _s(500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case_file.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token'),
    )
    op.create_index(op.f('ix_rapid_review_case_id'), 'rapid_review', ['case_id'], unique=True)
    op.create_table(
        'rapid_review_agency',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rapid_review_id', sa.Integer(), nullable=False),
        sa.Column('agency', _s(40), nullable=False),
        sa.Column('name', _s(200), nullable=False),
        sa.Column('email', _s(320), nullable=False),
        sa.Column('requested_on', sa.Date(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('request_message_id', _s(300), nullable=False),
        sa.Column('returned_on', sa.Date(), nullable=True),
        sa.Column('returned_via', _s(40), nullable=True),
        sa.Column('returned_by', _s(120), nullable=True),
        sa.Column('chased_on', sa.Date(), nullable=True),
        sa.Column('escalated_on', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['rapid_review_id'], ['rapid_review.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('rapid_review_id', 'agency', name='uq_rapid_review_agency'),
    )
    op.create_index(op.f('ix_rapid_review_agency_rapid_review_id'), 'rapid_review_agency', ['rapid_review_id'])
    op.create_index(op.f('ix_rapid_review_agency_request_message_id'), 'rapid_review_agency', ['request_message_id'])
    op.create_table(
        'rapid_review_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rapid_review_agency_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.Text(), nullable=False),  # encrypted (store/crypto.py)
        sa.Column('content_type', _s(120), nullable=False),
        sa.Column('sha256', _s(64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),  # encrypted (store/crypto.py EncryptedBytes)
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['rapid_review_agency_id'], ['rapid_review_agency.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_rapid_review_file_rapid_review_agency_id'), 'rapid_review_file', ['rapid_review_agency_id'])
    op.create_table(
        'rapid_review_signoff',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rapid_review_id', sa.Integer(), nullable=False),
        sa.Column('partner', _s(40), nullable=False),
        sa.Column('signed_by', _s(200), nullable=False),
        sa.Column('signed_on', sa.Date(), nullable=False),
        sa.Column('via', _s(40), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['rapid_review_id'], ['rapid_review.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('rapid_review_id', 'partner', name='uq_rapid_review_signoff'),
    )
    op.create_index(op.f('ix_rapid_review_signoff_rapid_review_id'), 'rapid_review_signoff', ['rapid_review_id'])


def downgrade() -> None:
    op.drop_table('rapid_review_signoff')
    op.drop_table('rapid_review_file')
    op.drop_table('rapid_review_agency')
    op.drop_table('rapid_review')
