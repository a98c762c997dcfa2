"""calendar sync: the event store, push channels, sync state per calendar, meetings from the calendar

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 18:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES_BEFORE = ('PAGE', 'CRM', 'INTEGRATION')
SOURCES = (*SOURCES_BEFORE, 'CALENDAR')


def upgrade() -> None:
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'sync_mode',
                sa.Enum('PUSH', 'POLL', 'LIVE', name='syncmode', native_enum=False, length=32),
                nullable=False,
                server_default='LIVE',
            )
        )
        batch_op.add_column(sa.Column('synced_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sync_cursor', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('sync_window_start', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sync_window_end', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sync_error', sa.String(length=500), nullable=True))
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.alter_column('sync_mode', server_default=None)

    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.alter_column(
            'source',
            existing_type=sa.Enum(*SOURCES_BEFORE, name='meetingsource', native_enum=False, length=32),
            type_=sa.Enum(*SOURCES, name='meetingsource', native_enum=False, length=32),
            existing_nullable=False,
        )
        batch_op.create_index(
            'uq_meeting_calendar_event',
            ['connection_id', 'provider_event_id'],
            unique=True,
            sqlite_where=sa.text("source = 'CALENDAR'"),
            postgresql_where=sa.text("source = 'CALENDAR'"),
        )

    op.create_table(
        'calendar_events',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('calendar_id', sa.Uuid(), nullable=False),
        sa.Column('provider_event_id', sa.String(length=1024), nullable=False),
        sa.Column('start', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('end', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('blocks', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('summary', sa.String(length=500), nullable=False),
        sa.Column('organizer_email', sa.String(length=254), nullable=True),
        sa.Column('organized_by_account', sa.Boolean(), nullable=False),
        sa.Column('attendees', sa.JSON(), nullable=False),
        sa.Column('version', sa.String(length=200), nullable=True),
        sa.Column('meetgraph_key', sa.String(length=200), nullable=True),
        sa.Column('from_integration', sa.Boolean(), nullable=False),
        sa.Column('series_id', sa.String(length=1024), nullable=True),
        sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('calendar_id', 'provider_event_id', name='uq_calendar_event_provider_id'),
    )
    op.create_index('ix_calendar_events_calendar_start', 'calendar_events', ['calendar_id', 'start'], unique=False)

    op.create_table(
        'push_channels',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('calendar_id', sa.Uuid(), nullable=True),
        sa.Column('connection_id', sa.Uuid(), nullable=True),
        sa.Column('provider', sa.String(length=16), nullable=False),
        sa.Column('channel_id', sa.String(length=200), nullable=False),
        sa.Column('resource_id', sa.String(length=1024), nullable=True),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['connection_id'], ['calendar_connections.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel_id'),
    )
    op.create_index('ix_push_channels_calendar_id', 'push_channels', ['calendar_id'], unique=False)
    op.create_index('ix_push_channels_connection_id', 'push_channels', ['connection_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_push_channels_connection_id', table_name='push_channels')
    op.drop_index('ix_push_channels_calendar_id', table_name='push_channels')
    op.drop_table('push_channels')
    op.drop_index('ix_calendar_events_calendar_start', table_name='calendar_events')
    op.drop_table('calendar_events')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index('uq_meeting_calendar_event')
    op.execute("DELETE FROM meetings WHERE source = 'CALENDAR'")
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.alter_column(
            'source',
            existing_type=sa.Enum(*SOURCES, name='meetingsource', native_enum=False, length=32),
            type_=sa.Enum(*SOURCES_BEFORE, name='meetingsource', native_enum=False, length=32),
            existing_nullable=False,
        )
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.drop_column('sync_error')
        batch_op.drop_column('sync_window_end')
        batch_op.drop_column('sync_window_start')
        batch_op.drop_column('sync_cursor')
        batch_op.drop_column('synced_at')
        batch_op.drop_column('sync_mode')
