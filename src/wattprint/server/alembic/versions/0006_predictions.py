"""Predictions (wire format 4): each run's latest prediction of its total duration, energy and
emissions, one row per run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'predictions',
        sa.Column('run_id', sa.String(), sa.ForeignKey('runs.run_id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.Column('unit', sa.String(), nullable=False),
        sa.Column('done', sa.Float(), nullable=False),
        sa.Column('total', sa.Float(), nullable=False),
        sa.Column('duration_s', sa.Float(), nullable=False),
        sa.Column('energy_j', sa.Float(), nullable=False),
        sa.Column('emissions_g', sa.Float(), nullable=False),
        sa.Column('end_s', sa.Float(), nullable=False),
        sa.Column('wire', sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('predictions')
