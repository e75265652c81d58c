"""Rollups (per run, per run and UTC hour) backfilled from the records; runs-list indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _sum_columns() -> list[sa.Column[Any]]:
    floats = ('duration_s', 'energy_j', 'cpu_energy_j', 'gpu_energy_j', 'ram_energy_j',
              'other_energy_j', 'emissions_g', 'cpu_emissions_g', 'gpu_emissions_g',
              'ram_emissions_g', 'other_emissions_g', 'first_start_s', 'last_end_s')
    return [sa.Column('intensity_kind', sa.String(), nullable=False),
            sa.Column('records', sa.Integer(), nullable=False),
            *(sa.Column(name, sa.Float(), nullable=False) for name in floats),
            sa.Column('first_seq', sa.BigInteger(), nullable=False),
            sa.Column('last_seq', sa.BigInteger(), nullable=False)]


_SORT = sa.text('coalesce(started_s, first_seen_s)')


def upgrade() -> None:
    op.create_table('rollup_run_hours',
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('hour_start_s', sa.BigInteger(), autoincrement=False, nullable=False),
    *_sum_columns(),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'hour_start_s', 'intensity_kind')
    )
    op.create_index('ix_rollup_run_hours_hour', 'rollup_run_hours', ['hour_start_s'],
                    unique=False)
    op.create_table('rollup_runs',
    sa.Column('run_id', sa.String(), nullable=False),
    *_sum_columns(),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'intensity_kind')
    )
    op.create_index('ix_runs_sort', 'runs', [_SORT, 'run_id'], unique=False)
    op.create_index('ix_runs_project_sort', 'runs', ['project_id', _SORT, 'run_id'],
                    unique=False)
    # an existing database: its records summed once, in this migration's transaction
    from wattprint.server.rollups import rebuild_sums

    rebuild_sums(op.get_bind())  # the tables of this revision (0007 backfills its own)


def downgrade() -> None:
    op.drop_index('ix_runs_project_sort', table_name='runs')
    op.drop_index('ix_runs_sort', table_name='runs')
    op.drop_table('rollup_runs')
    op.drop_index('ix_rollup_run_hours_hour', table_name='rollup_run_hours')
    op.drop_table('rollup_run_hours')
