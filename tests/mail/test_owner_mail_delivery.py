"""Owner mails against a real SMTP server that goes down, is slow, or refuses.

Measured before mails were jobs: with SMTP down, 5 of 5 owner mails were lost and never sent after it
came back; with SMTP slower than the client's timeout, 5 of 5 were lost. Mails are now durable jobs
(resolvers/notify.py): kept PENDING with their last error while the server is unreachable, sent once it
answers, FAILED at once on a 5xx refusal and after `mail_max_attempts` tries otherwise.

What SMTP cannot promise: a server that took the mail but whose reply never reached us looks exactly
like one that did not take it, so the mail is sent again and arrives twice, with the same Message-ID
(receivers and clients use it to drop the repeat). Delivery is at least once, never "exactly once".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.models import JobState
from meetgraph.jobs import retry_failed
from meetgraph.services import Services
from resolvers.notify import MAIL_OWNER
from tests.utils.clock import FakeClock
from tests.utils.graphql import GraphQLClient
from tests.utils.jobs import jobs_of_kind, run_due
from tests.utils.mail import SmtpServer
from tests.utils.meeting import book
from tests.utils.page import create_page
from tests.utils.user import create_user

OWNER = "ada@example.com"
SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)  # a Wednesday, 10:00 in Berlin
REQUESTS = 5


async def offline_page_requests(gql: GraphQLClient, count: int = REQUESTS) -> None:
    """`count` bookings of an offline page (no calendar connected): each is a request mailed to the owner."""
    _, token = await create_user(gql, OWNER)
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    for i in range(count):
        result = await book(gql, "intro", SLOT + timedelta(hours=i), email=f"visitor{i}@example.org")
        assert result["__typename"] == "BookMeetingSuccess", result


def after_every_backoff(services: Services, clock: FakeClock) -> None:
    """Move the injected clock past the longest retry delay: every pending retry is due."""
    clock.advance(seconds=services.settings.job_backoff_max_seconds + 1)


async def test_mails_written_while_smtp_is_down_are_sent_once_when_it_is_back(
    gql: GraphQLClient, services: Services, smtp: SmtpServer, clock: FakeClock
) -> None:
    # given
    smtp.stop()
    await offline_page_requests(gql)
    # when
    tried = await run_due(services)
    after_every_backoff(services, clock)
    tried_again = await run_due(services)
    # then
    assert (tried.count(MAIL_OWNER), tried_again.count(MAIL_OWNER)) == (REQUESTS, REQUESTS)
    assert smtp.mailbox.received() == []
    waiting = await jobs_of_kind(services, MAIL_OWNER)
    assert [(job.state, job.attempts) for job in waiting] == [(JobState.PENDING, 2)] * REQUESTS
    assert all(job.last_error and "SMTPConnect" in job.last_error for job in waiting), waiting[0].last_error
    # when
    smtp.start()
    after_every_backoff(services, clock)
    sent = await run_due(services)
    await services.drain()
    # then
    assert sent.count(MAIL_OWNER) == REQUESTS
    jobs = await jobs_of_kind(services, MAIL_OWNER)
    assert [(job.state, job.attempts, job.last_error) for job in jobs] == [(JobState.DONE, 3, None)] * REQUESTS
    arrived = smtp.mailbox.by_message_id()
    assert arrived == {job.payload["message_id"]: 1 for job in jobs}
    assert len(smtp.mailbox.to(OWNER)) == REQUESTS


async def test_a_reply_slower_than_the_client_timeout_is_retried_and_the_mail_delivered(
    gql: GraphQLClient, services: Services, smtp: SmtpServer, clock: FakeClock
) -> None:
    """The server holds its reply to DATA past the mailer's timeout and keeps the mail only if its reply
    goes out: the client hangs up, the server drops the mail, and the retry delivers it once."""
    # given
    smtp.mailbox.reply_delay = 30.0  # ended early by the client hanging up after SMTP_TIMEOUT
    await offline_page_requests(gql, count=1)
    # when
    await run_due(services)
    # then
    (job,) = await jobs_of_kind(services, MAIL_OWNER)
    assert (job.state, job.attempts) == (JobState.PENDING, 1)
    assert job.last_error and "Timed out waiting for server response" in job.last_error, job.last_error
    assert smtp.mailbox.received() == []
    # when
    smtp.mailbox.reply_delay = 0.0
    after_every_backoff(services, clock)
    await run_due(services)
    # then
    (job,) = await jobs_of_kind(services, MAIL_OWNER)
    assert (job.state, job.attempts) == (JobState.DONE, 2)
    assert smtp.mailbox.by_message_id() == {job.payload["message_id"]: 1}
    assert smtp.mailbox.data_commands == 2


async def test_a_mail_taken_by_a_server_whose_reply_never_arrived_comes_twice_with_one_message_id(
    gql: GraphQLClient, services: Services, smtp: SmtpServer, clock: FakeClock
) -> None:
    """The server takes the mail, then its reply comes too late: to the client this is the same as a mail
    that was not taken, so it is sent again. SMTP offers nothing better; the repeat carries the same
    Message-ID, so the owner's mail client shows it once."""
    # given
    smtp.mailbox.reply_delay = 30.0
    smtp.mailbox.keep_before_reply = True
    await offline_page_requests(gql, count=1)
    await run_due(services)
    # when
    smtp.mailbox.reply_delay = 0.0
    after_every_backoff(services, clock)
    await run_due(services)
    # then
    (job,) = await jobs_of_kind(services, MAIL_OWNER)
    assert (job.state, job.attempts) == (JobState.DONE, 2)
    assert smtp.mailbox.by_message_id() == {job.payload["message_id"]: 2}


async def test_a_5xx_refusal_fails_the_mail_at_once_with_the_servers_answer(
    gql: GraphQLClient, services: Services, smtp: SmtpServer
) -> None:
    # given
    smtp.mailbox.refuse_recipients = "550 5.1.1 <ada@example.com>: no such user"
    await offline_page_requests(gql, count=1)
    # when
    await run_due(services)
    await services.drain()
    # then
    (job,) = await jobs_of_kind(services, MAIL_OWNER)
    assert (job.state, job.attempts) == (JobState.FAILED, 1)
    assert job.last_error and "550" in job.last_error and "no such user" in job.last_error
    assert job.finished_at is not None
    assert smtp.mailbox.received() == []


async def test_a_5xx_answer_to_the_message_fails_the_mail_at_once(
    gql: GraphQLClient, services: Services, smtp: SmtpServer
) -> None:
    # given
    smtp.mailbox.refuse_data = "554 5.7.1 message rejected as spam"
    await offline_page_requests(gql, count=1)
    # when
    await services.drain()
    # then
    (job,) = await jobs_of_kind(services, MAIL_OWNER)
    assert (job.state, job.attempts) == (JobState.FAILED, 1)
    assert job.last_error and "554" in job.last_error
    assert smtp.mailbox.data_commands == 1


async def test_a_4xx_answer_is_retried_until_the_server_takes_the_mail(
    gql: GraphQLClient, services: Services, smtp: SmtpServer, clock: FakeClock
) -> None:
    # given
    smtp.mailbox.refuse_recipients = "451 4.3.0 try again later"
    await offline_page_requests(gql, count=1)
    await run_due(services)
    # when
    smtp.mailbox.refuse_recipients = None
    after_every_backoff(services, clock)
    await run_due(services)
    # then
    (job,) = await jobs_of_kind(services, MAIL_OWNER)
    assert (job.state, job.attempts) == (JobState.DONE, 2)
    assert smtp.mailbox.by_message_id() == {job.payload["message_id"]: 1}


async def test_after_mail_max_attempts_the_mail_is_failed_with_its_last_error(
    gql: GraphQLClient, services: Services, smtp: SmtpServer, clock: FakeClock
) -> None:
    # given
    services.settings.mail_max_attempts = 3
    smtp.stop()
    await offline_page_requests(gql, count=1)
    # when
    for _ in range(5):
        await run_due(services)
        after_every_backoff(services, clock)
    # then
    (job,) = await jobs_of_kind(services, MAIL_OWNER)
    assert (job.state, job.attempts, job.max_attempts) == (JobState.FAILED, 3, 3)
    assert job.last_error and "SMTPConnect" in job.last_error
    # when: the operator's second chance once SMTP is back (`meetgraph jobs --retry`)
    smtp.start()
    async with services.sessionmaker() as session:
        assert await retry_failed(session, [str(job.id)], clock()) == 1
        await session.commit()
    await run_due(services)
    # then
    (job,) = await jobs_of_kind(services, MAIL_OWNER)
    assert job.state == JobState.DONE
    assert smtp.mailbox.by_message_id() == {job.payload["message_id"]: 1}
