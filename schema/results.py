"""Run a resolver and turn its expected failures into the typed errors of the mutation's union."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from meetgraph.context import Context
from scheduling import errors as e
from schema import errors as g

T = TypeVar("T")
R = TypeVar("R")

ERROR_TYPES: dict[type[e.UserError], type[g.Error]] = {
    e.InvalidInput: g.ValidationError,
    e.NotFound: g.NotFoundError,
    e.PermissionRequired: g.PermissionRequiredError,
    e.LicenseRequired: g.LicenseRequiredError,
    e.SharedInbox: g.SharedInboxError,
    e.ConnectionLimit: g.ConnectionLimitError,
    e.ProviderFailure: g.ProviderError,
    e.ExchangeVersion: g.ExchangeVersionError,
    e.SlugTaken: g.SlugTakenError,
    e.Unsupported: g.UnsupportedOperationError,
    e.SlotUnavailable: g.SlotUnavailableError,
    e.AccessLost: g.CalendarAccessLostError,
    e.PagesDisabled: g.PagesDisabledError,
    e.DomainUnverified: g.DomainVerificationError,
    e.CalendarNotReadable: g.CalendarNotSharedError,
}


def to_error(exc: e.UserError) -> g.Error:
    kind = ERROR_TYPES[type(exc)]
    if kind is g.ValidationError:
        return g.ValidationError(message=exc.message, field=exc.field)
    if isinstance(exc, e.ProviderFailure):
        return g.ProviderError(message=exc.message, reason=exc.reason)
    return kind(message=exc.message)


async def outcome(ctx: Context, work: Awaitable[T], success: Callable[[T], R]) -> R:
    """Await the resolver; success builds the payload, a UserError becomes its typed error.

    `R` is the mutation's result union: each resolver raises only errors whose types are members of
    it (strawberry refuses any other type at run time, so a slip cannot pass silently).
    The request's dataloaders are renewed afterwards, so the payload reads what was just written.
    """
    ctx.write_mode = True
    try:
        result = await work
    except e.UserError as exc:
        return cast(R, to_error(exc))
    finally:
        ctx.renew_loaders()
    return success(result)
