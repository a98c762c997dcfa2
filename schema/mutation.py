"""Mutation root: the merge of every domain's mutations, in the order of the exported SDL."""

from __future__ import annotations

import strawberry

from schema.booking import BookingMutation
from schema.connections import ConnectionsMutation
from schema.domains import DomainsMutation
from schema.meetings import MeetingsMutation
from schema.pages import PagesMutation
from schema.settings import SettingsMutation
from schema.tasks import TasksMutation
from schema.users import UsersMutation


@strawberry.type
class Mutation(
    UsersMutation,
    ConnectionsMutation,
    SettingsMutation,
    PagesMutation,
    DomainsMutation,
    BookingMutation,
    MeetingsMutation,
    TasksMutation,
):
    pass
