"""`meetgraph jobs`: what operators see of failed jobs (with the last error), and `--retry` giving them another go."""

from __future__ import annotations

import json

from db.models import JobState
from emulators.runner import free_port
from resolvers.notify import MAIL_OWNER
from tests.utils.graphql import GraphQLClient
from tests.utils.mail import smtp_server
from tests.utils.meeting import book, future_slots
from tests.utils.page import page_owner
from tests.utils.processes import Processes


async def test_a_failed_mail_is_listed_with_its_error_and_sent_after_a_retry(processes: Processes) -> None:
    # given: a mail with one try, to an SMTP server that is not there
    smtp_down = f"smtp://127.0.0.1:{free_port()}"
    server = await processes.server(MEETGRAPH_SMTP_URL=smtp_down, MEETGRAPH_MAIL_MAX_ATTEMPTS="1").start()
    async with server.client() as http:
        gql = GraphQLClient(http)
        owner = await page_owner(gql, http, provider=None)
        assert (await book(gql, owner.slug, future_slots(1)[0]))["__typename"] == "BookMeetingSuccess"
    await processes.wait_until(lambda: processes.settled(MAIL_OWNER), "the mail's one try is over")
    server.terminate()
    assert await server.exited() == 0
    # when
    text = await processes.cli("jobs")
    listing = await processes.cli("jobs", "--json")
    # then
    assert text.returncode == 0 and "failed=1" in text.stdout and "last error:" in text.stdout
    (failed,) = json.loads(listing.stdout)["jobs"]
    assert (failed["kind"], failed["state"], failed["attempts"]) == (MAIL_OWNER, "FAILED", 1)
    assert "connect" in failed["last_error"].lower()

    # when: retried, with the SMTP server back
    retried = await processes.cli("jobs", "--retry", failed["id"])
    again = await processes.cli("jobs", "--retry", failed["id"])
    # then: queued again once (a second retry finds nothing FAILED), and sent by the next start
    assert (retried.returncode, retried.stdout.strip()) == (0, "1 job(s) queued again")
    assert (again.returncode, again.stdout.strip()) == (1, "0 job(s) queued again")
    (pending,) = json.loads((await processes.cli("jobs", "--json")).stdout)["jobs"]
    assert (pending["state"], pending["attempts"]) == ("PENDING", 0)
    with smtp_server() as mailbox:
        await server.start(MEETGRAPH_SMTP_URL=mailbox.url)
        await processes.wait_until(lambda: len(mailbox.received()) == 1, "the mail arrives")
        await processes.wait_until(lambda: processes.settled(MAIL_OWNER), "the mail job is done")
    (sent,) = await processes.jobs(MAIL_OWNER)
    assert sent.state is JobState.DONE
