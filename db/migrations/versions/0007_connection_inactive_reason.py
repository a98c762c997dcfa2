"""why a calendar connection became inactive

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 15:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'inactive_reason',
                sa.Enum(
                    'PASSWORD_REFUSED', 'ACCOUNT_LOCKED_OUT', 'ACCESS_REVOKED',
                    name='inactivereason', native_enum=False, length=32,
                ),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.drop_column('inactive_reason')
