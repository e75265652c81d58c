"""Detail rollups (per run: devices, intensity provenance, gaps, work units) backfilled from
the records, so a running run's summary so far is exact without reading its records.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _run_id() -> sa.Column[str]:
    return sa.Column('run_id', sa.String(), sa.ForeignKey('runs.run_id', ondelete='CASCADE'),
                     primary_key=True)


def upgrade() -> None:
    op.create_table(
        'rollup_run_devices', _run_id(),
        sa.Column('device', sa.String(), primary_key=True),
        sa.Column('share_basis', sa.String(), primary_key=True),
        sa.Column('component', sa.String(), nullable=False),
        sa.Column('method', sa.String(), nullable=False),
        sa.Column('first_seq', sa.BigInteger(), nullable=False),
        sa.Column('first_index', sa.Integer(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False)
          for name in ('energy_j', 'share_s', 'seen_s', 'share_sum')),
    )
    op.create_table(
        'rollup_run_intensities', _run_id(),
        *(sa.Column(name, sa.String(), primary_key=True)
          for name in ('intensity_kind', 'source', 'zone', 'basis', 'scope', 'gases')),
        sa.Column('records', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False)
          for name in ('pue_energy_j', 'min_g_per_kwh', 'max_g_per_kwh')),
        sa.Column('last_seq', sa.BigInteger(), nullable=False),
        sa.Column('last_g_per_kwh', sa.Float(), nullable=False),
        sa.Column('max_year', sa.Integer(), nullable=True),
        sa.Column('live', sa.Integer(), nullable=False),
    )
    op.create_table(
        'rollup_run_gaps', _run_id(),
        sa.Column('gap', sa.String(), primary_key=True),
        sa.Column('first_seq', sa.BigInteger(), nullable=False),
        sa.Column('first_index', sa.Integer(), nullable=False),
    )
    op.create_table(
        'rollup_run_work', _run_id(),
        sa.Column('unit', sa.String(), primary_key=True),
        sa.Column('count', sa.Float(), nullable=False),
    )
    # an existing database: its records read once, in this migration's transaction
    from wattprint.server.rollup_details import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    for table in ('rollup_run_work', 'rollup_run_gaps', 'rollup_run_intensities',
                  'rollup_run_devices'):
        op.drop_table(table)
