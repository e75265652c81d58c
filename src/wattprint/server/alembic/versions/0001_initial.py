"""Initial tables: organisations, projects, experiments, runs and their data, accounts, API keys.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_s', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('created_s', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('memberships',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name='ck_memberships_role'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'organisation_id')
    )
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'name')
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hmac', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('scopes', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_s', sa.Float(), nullable=False),
    sa.Column('revoked_s', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prefix')
    )
    op.create_table('experiments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'name')
    )
    op.create_table('runs',
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=True),
    sa.Column('info_received', sa.Boolean(), nullable=False),
    sa.Column('reported_project', sa.String(), nullable=True),
    sa.Column('reported_experiment', sa.String(), nullable=True),
    sa.Column('started_s', sa.Float(), nullable=True),
    sa.Column('scope', sa.String(), nullable=True),
    sa.Column('interval_s', sa.Float(), nullable=True),
    sa.Column('pue', sa.Float(), nullable=True),
    sa.Column('host_id', sa.String(), nullable=True),
    sa.Column('hostname', sa.String(), nullable=True),
    sa.Column('os', sa.String(), nullable=True),
    sa.Column('machine', sa.String(), nullable=True),
    sa.Column('python', sa.String(), nullable=True),
    sa.Column('country', sa.String(), nullable=True),
    sa.Column('subdivision', sa.String(), nullable=True),
    sa.Column('zone', sa.String(), nullable=True),
    sa.Column('location_resolved_by', sa.String(), nullable=True),
    sa.Column('cloud', sa.String(), nullable=True),
    sa.Column('cloud_region', sa.String(), nullable=True),
    sa.Column('wattprint_version', sa.String(), nullable=True),
    sa.Column('job_id', sa.String(), nullable=True),
    sa.Column('node', sa.String(), nullable=True),
    sa.Column('node_rank', sa.Integer(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('wire', sa.JSON(), nullable=True),
    sa.Column('first_seen_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_host_started', ['host_id', 'started_s'], unique=False)
        batch_op.create_index('ix_runs_job', ['job_id'], unique=False)
        batch_op.create_index('ix_runs_project_started', ['project_id', 'started_s'], unique=False)

    op.create_table('heartbeats',
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('at_s', sa.Float(), nullable=False),
    sa.Column('every_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'at_s')
    )
    op.create_table('records',
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('cpu_energy_j', sa.Float(), nullable=False),
    sa.Column('gpu_energy_j', sa.Float(), nullable=False),
    sa.Column('ram_energy_j', sa.Float(), nullable=False),
    sa.Column('other_energy_j', sa.Float(), nullable=False),
    sa.Column('energy_j', sa.Float(), nullable=False),
    sa.Column('pue', sa.Float(), nullable=False),
    sa.Column('emissions_g', sa.Float(), nullable=False),
    sa.Column('intensity_g_per_kwh', sa.Float(), nullable=False),
    sa.Column('intensity_zone', sa.String(), nullable=False),
    sa.Column('intensity_source', sa.String(), nullable=False),
    sa.Column('intensity_year', sa.Integer(), nullable=True),
    sa.Column('intensity_kind', sa.String(), nullable=True),
    sa.Column('intensity_live', sa.Boolean(), nullable=False),
    sa.Column('intensity_basis', sa.String(), nullable=True),
    sa.Column('intensity_scope', sa.String(), nullable=True),
    sa.Column('intensity_gases', sa.String(), nullable=True),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('gaps', sa.JSON(), nullable=False),
    sa.Column('work', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'seq')
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_start', ['start_s'], unique=False)

    op.create_table('rescores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('created_s', sa.Float(), nullable=False),
    sa.Column('emissions_g', sa.Float(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rescores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rescores_run_id'), ['run_id'], unique=False)

    op.create_table('spans',
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('span_id', sa.String(), nullable=False),
    sa.Column('parent_id', sa.String(), nullable=True),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_start_s', sa.Float(), nullable=False),
    sa.Column('last_end_s', sa.Float(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('energy_j', sa.Float(), nullable=False),
    sa.Column('emissions_g', sa.Float(), nullable=False),
    sa.Column('wire', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'span_id')
    )
    op.create_table('summaries',
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('energy_j', sa.Float(), nullable=False),
    sa.Column('emissions_g', sa.Float(), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('wire', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id')
    )


def downgrade() -> None:
    op.drop_table('summaries')
    op.drop_table('spans')
    with op.batch_alter_table('rescores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rescores_run_id'))

    op.drop_table('rescores')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_start')

    op.drop_table('records')
    op.drop_table('heartbeats')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_project_started')
        batch_op.drop_index('ix_runs_job')
        batch_op.drop_index('ix_runs_host_started')

    op.drop_table('runs')
    op.drop_table('experiments')
    op.drop_table('api_keys')
    op.drop_table('projects')
    op.drop_table('memberships')
    op.drop_table('users')
    op.drop_table('organisations')
