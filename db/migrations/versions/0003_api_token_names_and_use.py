"""api token names and last use

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INITIAL_NAME = 'initial'
"""Every token before this revision was made by createUser (or `meetgraph create-user`), which names its token so."""


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False, server_default=INITIAL_NAME))
        batch_op.add_column(sa.Column('last_used_at', db.types.UTCDateTime(timezone=True), nullable=True))
    # the default only named the existing rows: every new token is named by the code that makes it
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('name', existing_type=sqlmodel.sql.sqltypes.AutoString(length=100), existing_nullable=False, server_default=None)
        batch_op.create_check_constraint('ck_api_tokens_name_length', 'length(trim(name)) BETWEEN 1 AND 100')


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint('ck_api_tokens_name_length', type_='check')
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('name')
