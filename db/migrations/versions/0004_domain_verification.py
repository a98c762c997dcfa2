"""domain verification

A domain counts once a DNS TXT record proves the account controls the host. Existing domains get a random
verification token and start unverified. The unique host name becomes: one claim per account and host,
and one verified claim per host (a partial unique index, on SQLite and PostgreSQL alike).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:20:00
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERIFIED = sa.text('verified_at IS NOT NULL')
NAMING = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}
"""Names the unnamed unique(hostname) of 0001 on SQLite, where batch mode reflects it without a name."""


def _hostname_unique_name() -> str:
    return 'domains_hostname_key' if op.get_bind().dialect.name == 'postgresql' else 'uq_domains_hostname'


def upgrade() -> None:
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verification_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('verified_at', db.types.UTCDateTime(timezone=True), nullable=True))
    domains = sa.table('domains', sa.column('id', sa.Uuid()), sa.column('verification_token', sa.String()))
    connection = op.get_bind()
    for (key,) in connection.execute(sa.select(domains.c.id).where(domains.c.verification_token == '')).all():
        connection.execute(
            domains.update().where(domains.c.id == key).values(verification_token=secrets.token_urlsafe(24))
        )
    with op.batch_alter_table('domains', schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(_hostname_unique_name(), type_='unique')
        batch_op.create_unique_constraint('uq_domain_hostname_account', ['hostname', 'account_id'])  # hostname first: lookups by host use it
        batch_op.create_index(
            'uq_domain_verified_hostname', ['hostname'], unique=True, sqlite_where=VERIFIED, postgresql_where=VERIFIED
        )


def downgrade() -> None:
    """Fails when two accounts claim one host: delete the unverified duplicates first."""
    with op.batch_alter_table('domains', schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_index('uq_domain_verified_hostname')
        batch_op.drop_constraint('uq_domain_hostname_account', type_='unique')
        batch_op.create_unique_constraint(_hostname_unique_name(), ['hostname'])
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.drop_column('verified_at')
        batch_op.drop_column('verification_token')
