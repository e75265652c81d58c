"""Rescores pushed from trackers: provider, kind and intensity columns, one row per
(run_id, provider, created_s) so that pushing a run again stores its rescores once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nothing filled the table before this revision; provider's default only lets the NOT NULL
    # column be added to any row there is, and is dropped again (the app always sends one).
    with op.batch_alter_table('rescores') as batch:
        batch.add_column(sa.Column('provider', sa.String(), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('intensity_g_per_kwh', sa.Float(), nullable=True))
    with op.batch_alter_table('rescores') as batch:
        batch.alter_column('provider', server_default=None)
        batch.create_unique_constraint('uq_rescores_run_provider_created',
                                       ['run_id', 'provider', 'created_s'])


def downgrade() -> None:
    with op.batch_alter_table('rescores') as batch:
        batch.drop_constraint('uq_rescores_run_provider_created', type_='unique')
        batch.drop_column('intensity_g_per_kwh')
        batch.drop_column('kind')
        batch.drop_column('provider')
