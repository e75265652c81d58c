"""OIDC sign-in: users' identities at OpenID providers and the sign-ins under way.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_identities',
    sa.Column('issuer', sa.String(), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('created_s', sa.Float(), nullable=False),
    sa.Column('last_login_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('issuer', 'subject')
    )
    op.create_index('ix_user_identities_user', 'user_identities', ['user_id'], unique=False)
    op.create_table('oidc_pending_logins',
    sa.Column('state_sha256', sa.String(length=64), nullable=False),
    sa.Column('browser_sha256', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=False),
    sa.Column('next_path', sa.Text(), nullable=False),
    sa.Column('expires_s', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('state_sha256')
    )
    op.create_index('ix_oidc_pending_logins_expires', 'oidc_pending_logins', ['expires_s'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_oidc_pending_logins_expires', table_name='oidc_pending_logins')
    op.drop_table('oidc_pending_logins')
    op.drop_index('ix_user_identities_user', table_name='user_identities')
    op.drop_table('user_identities')
