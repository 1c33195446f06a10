"""The enforcement matrix: every route of the app × every caller × every feed state.

The routes come from the app's own route table: each (method, path) the app
serves under ``/taxii2/``, ``/exchange/v1/`` or ``/.well-known/`` is a column of
cells, and `TABLE` holds exactly one row for it, saying what the route needs
(`Need`), how to build a valid request (path parameters filled by `fill`, a
body where it takes one) and what its success looks like. A route added later
without a row fails its cells and `test_every_route_has_a_row`; a row whose
route is gone fails `test_every_row_has_a_route`.

Callers (`Role`): anonymous; credentials that prove no one (`BAD_CREDENTIALS`:
seven malformed ``Authorization`` headers, a well-formed token never issued, a
valid token under another member's id, a revoked token, a disabled member's
token); and members (`STANDING`): the feed's owner; a reader (grant read,
policy reader); a writer (grant write, policy writer); *granted* (grant read
and write, absent from the policy); *named* (reader and writer in the policy,
no grant); an outsider (a member without a grant) and an auditor (neither).
The revoked and the disabled member stand as the owner does, so only their
credentials can be what refuses them.

Feed states (`FeedState`): a feed that exists, one per policy state (a policy
in force naming the members as in `STANDING`; no policy ever published; that
same policy expired, its window ended yesterday; a public TLP:CLEAR policy the
operator has made public too); a feed that exists but is *hidden* from every
caller (another member's, with objects, a status and a policy in force naming
every role, and no grant to any of them); and a feed that never existed. The
routes take no ``now``, so the expired version is written with the store
directly (the hub refuses to publish one), and
`test_the_feed_states_are_what_they_claim` checks it still verifies, so that
"expired" is not silently "no valid policy".

The expected outcome is `expected`: a few explicit rules, first match wins.
Each cell checks the status code and body shape: a success is the route's
resource (`Row.check`), a failure a TAXII error whose ``http_status`` is the
status (naming the policy's reason when the grant allowed the action but the
policy did not). A refused request changes nothing (row counts of every
table; on the hidden feed, its rows too). A caller that may not know the
resource the path names (no credentials or bad ones; no grant on the feed, or
the feed hidden; not the poster of the status) gets an answer byte-identical
(status, every header but ``X-Request-Id``, body) to the one about an absent
feed, status or member: the hidden column thus answers every route, every
caller, exactly as the absent one. Credentials are read wherever a route may
answer a member: bad ones are 401 even where anonymous callers are served (the
public feed), and are as good as none only on the log key, which reads none. A
member knows of a feed only through a grant, the public one too: without a
grant it gets the absent feed's 404 there, though anonymous callers read it.

One hub per backend serves every cell (module scope), and no cell depends on
another's order: re-posting the envelope is a success; each DELETE that should
succeed deletes an object seeded for it; each POST of a policy that should
succeed publishes to a feed of its own, set up in the cell's state; each POST
of a key bundle registers the caller's next bundle (its first, or a rotation
endorsed by the one in force). Refusals are cached by request
(`Matrix.refusal`): a request that names no feed is the same in every feed
state, and the answer about an absent feed is compared with several cells'; the
first time a request is sent, its cell checks it changed nothing.

Runs on SQLite, and on PostgreSQL too when ``EXCHANGE_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import create_engine, func, make_url, select, text

from exchange.app import create_app
from exchange.db import tables
from exchange.db.documents import StoredDocument
from exchange.db.logs import LogName, NewLeaf
from exchange.db.records import MemberKind, MemberRecord
from exchange.db.session import read_transaction, write_transaction
from exchange.db.statuses import StatusDetail, StatusRecord
from exchange.errors import AuthenticationFailed
from exchange.protocol.checkpoint import verify_checkpoint
from exchange.protocol.envelope import EXTENSION_DEFINITION
from exchange.protocol.ids import CollectionId, MemberId, StatusId
from exchange.protocol.keys import parse_key_bundle
from exchange.protocol.media import TAXII_21
from exchange.protocol.merkle import leaf_hash
from exchange.protocol.timestamps import micros_now
from exchange.services import admin
from exchange.services.auth import authenticate, hash_token
from exchange.services.directory import current_bundle
from exchange.services.hub import Hub
from exchange.services.logs import issue_checkpoints
from exchange.services.policy import publish_policy
from exchange.services.stix import validate_object
from exchange.services.trust import policy_in_force
from exchange.settings import HubSettings
from feeds.crypto.keys import MemberSecrets, build_key_bundle, sign_document
from policies import (
    POLICY_LABEL,
    TLP_MARKINGS,
    TlpLevel,
    parse_signed_policy,
    policy_document,
    policy_from_template,
)
from tests.conftest import BACKENDS
from tests.exchange.conftest import T0, StixFactory, World, build_world
from tests.policy_kit import OwnerKeys

# ---------------------------------------------------------------------------------------------
# Who calls, and in which state the feed is.


class Role(StrEnum):
    """A caller: anonymous, bad credentials, or a member of that name."""

    ANONYMOUS = "anonymous"
    # Malformed credentials (`exchange.services.auth` reads Basic and Bearer only).
    EMPTY = "malformed-empty"  # an Authorization header with no value at all
    OTHER_SCHEME = "malformed-scheme"  # the owner's valid token, as "Token <token>"
    EMPTY_BEARER = "malformed-empty-bearer"  # "Bearer" and nothing
    BLANK = "malformed-blank"  # whitespace only
    NOT_BASE64 = "malformed-basic-base64"  # Basic, not base64
    NOT_UTF8 = "malformed-basic-utf8"  # Basic, base64 of bytes that are not UTF-8
    NO_COLON = "malformed-basic-no-colon"  # Basic, the owner's token without "id:"
    # Well-formed credentials that prove no one.
    WRONG_TOKEN = "wrong-token"  # Bearer, a token never issued
    WRONG_MEMBER = "wrong-member"  # Basic, the reader's id with the owner's token
    REVOKED = "revoked-token"  # Bearer, issued then revoked
    DISABLED = "disabled-member"  # Bearer, issued to a member since disabled
    # Members.
    OWNER = "owner"
    READER = "reader"
    WRITER = "writer"
    GRANTED = "granted"  # granted read and write, absent from the policy
    NAMED = "named"  # reader and writer in the policy, no grant
    OUTSIDER = "outsider"  # a member without a grant
    AUDITOR = "auditor"


BAD_CREDENTIALS = frozenset(
    {
        Role.EMPTY,
        Role.OTHER_SCHEME,
        Role.EMPTY_BEARER,
        Role.BLANK,
        Role.NOT_BASE64,
        Role.NOT_UTF8,
        Role.NO_COLON,
        Role.WRONG_TOKEN,
        Role.WRONG_MEMBER,
        Role.REVOKED,
        Role.DISABLED,
    }
)
"""The callers whose credentials prove no one: 401 wherever credentials are read."""


def authenticates(role: Role) -> bool:
    """Whether ``role``'s request proves a member."""
    return role is not Role.ANONYMOUS and role not in BAD_CREDENTIALS


@dataclass(frozen=True)
class Standing:
    """A member's rights on the feed under test: the operator's grant and the policy's lists."""

    grant_read: bool
    grant_write: bool
    policy_read: bool
    policy_write: bool

    @property
    def granted(self) -> bool:
        """Whether the member holds a grant at all (else the feed is absent to it)."""
        return self.grant_read or self.grant_write


STANDING: dict[Role, Standing] = {
    #                       grant read, grant write, policy reader, policy writer
    Role.OWNER: Standing(True, True, True, True),
    Role.READER: Standing(True, False, True, False),
    Role.WRITER: Standing(False, True, False, True),
    Role.GRANTED: Standing(True, True, False, False),
    Role.NAMED: Standing(False, False, True, True),
    Role.OUTSIDER: Standing(False, False, False, False),
    Role.AUDITOR: Standing(False, False, False, False),
    # Stand as the owner does: their credentials alone refuse them.
    Role.REVOKED: Standing(True, True, True, True),
    Role.DISABLED: Standing(True, True, True, True),
}
"""Every member (roles with a member behind them); the feeds' grants and policies are made
from it."""


class FeedState(StrEnum):
    """The feed a request names: one that exists, in the state of its signed policy;
    one that exists hidden from every caller; one that never existed."""

    IN_FORCE = "policy-in-force"
    NONE = "no-policy"
    EXPIRED = "expired-policy"
    PUBLIC = "public"  # a public TLP:CLEAR policy in force, and the operator's consent
    HIDDEN = "hidden"
    ABSENT = "absent"

    @property
    def exists(self) -> bool:
        """Whether the feed exists and the callers stand on it as `STANDING` says."""
        return self not in (FeedState.HIDDEN, FeedState.ABSENT)


EXISTING = [state for state in FeedState if state.exists]

DENIAL = {
    FeedState.IN_FORCE: "named in the policy",
    FeedState.NONE: "no sharing policy in force",
    FeedState.EXPIRED: "the policy has expired",
    FeedState.PUBLIC: "named in the policy",
}
"""What a 403 says when the grant allows the action and the policy does not."""


def rights(role: Role, state: FeedState) -> tuple[bool, bool]:
    """A caller's effective (read, write) rights on an existing feed: its grant and a
    policy in force naming it (a public policy lets anyone read, members by grant)."""
    if role is Role.ANONYMOUS:
        return state is FeedState.PUBLIC, False
    standing = STANDING[role]
    in_force = state in (FeedState.IN_FORCE, FeedState.PUBLIC)
    return (
        standing.grant_read and in_force and (standing.policy_read or state is FeedState.PUBLIC),
        standing.grant_write and standing.policy_write and in_force,
    )


# ---------------------------------------------------------------------------------------------
# The routes, from the app.

PREFIXES = ("/taxii2/", "/exchange/v1/", "/.well-known/")


@dataclass(frozen=True, order=True)
class Route:
    """One method of one path of the app."""

    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> set[str]:
        """The names of the path's parameters."""
        return set(re.findall(r"{(\w+)}", self.path))


def api_routes(app: FastAPI) -> Iterator[tuple[APIRoute, str, set[str]]]:
    """Every API route of ``app`` with its full path and methods.

    FastAPI keeps included routers as such in ``app.routes``;
    `iter_route_contexts` walks them as the app does when it routes.
    """
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            assert context.path is not None
            assert context.methods is not None
            yield route, context.path, set(context.methods)


def app_routes(app: FastAPI) -> list[Route]:
    """Every (method, path) ``app`` serves under `PREFIXES`."""
    return sorted(
        Route(method, path)
        for _, path, methods in api_routes(app)
        if path.startswith(PREFIXES)
        for method in methods
    )


APP = create_app(HubSettings(home=Path("unused")))  # never started: only its route table is read
APP_ROUTES = app_routes(APP)

# ---------------------------------------------------------------------------------------------
# The hub under test: a feed in each state.

ABSENT_FEED_ID = "5e1f0b8c-58a1-4c9e-9d7b-000000000000"
ABSENT_ALIAS = "no-such-feed"
ABSENT_STATUS = "0b6e1f3a-2c4d-4e5f-8a9b-000000000000"
ABSENT_MEMBER = "identity--7d3c2b1a-0f9e-4d8c-b7a6-000000000000"
NEVER_ISSUED = "tx_" + "A" * 43  # the shape of `exchange.services.auth.new_token`'s tokens
STRANGER = "stranger"  # owns the hidden feed; not a caller
HIDDEN_ALIAS = "hidden-from-every-caller"


@dataclass(frozen=True)
class Refs:
    """What a request names: a feed and, in it, an object and the owner's status."""

    feed_id: str
    alias: str
    object_id: str  # stored in the feed
    status_id: str  # of the owner's add to the feed
    owner_id: str  # the feed's owner, whose keys are registered
    envelope: bytes  # a valid envelope of one object

    def absent(self) -> Refs:
        """The same names for a feed, status and member that do not exist."""
        return replace(
            self,
            feed_id=ABSENT_FEED_ID,
            alias=ABSENT_ALIAS,
            status_id=ABSENT_STATUS,
            owner_id=ABSENT_MEMBER,
        )


Answer = tuple[int, tuple[tuple[str, str], ...], bytes]
"""What a caller learns from a response: status, headers (but the request id), body."""


def answer(response: httpx.Response) -> Answer:
    """``response`` as the caller sees it, less the per-request ``X-Request-Id``."""
    headers = tuple(
        sorted((k, v) for k, v in response.headers.items() if k.lower() != "x-request-id")
    )
    return response.status_code, headers, response.content


@dataclass
class Matrix:
    """A hub with a feed in each state, and every caller's credentials."""

    world: World
    stix: StixFactory
    secrets: dict[str, MemberSecrets]
    """Each member's signing secrets in force (the owners', and whoever registered keys)."""
    authorization: dict[Role, str] = field(default_factory=dict)
    """Each caller's ``Authorization`` header (none for anonymous)."""
    feeds: dict[FeedState, Refs] = field(default_factory=dict)
    _scratch: Iterator[int] = field(default_factory=itertools.count)
    _refusals: dict[tuple[str, str, Role, bytes | None], Answer] = field(default_factory=dict)
    _counts: tuple[int, ...] | None = None  # as a refused request left them; None: stale

    @property
    def hub(self) -> Hub:
        """The hub under test."""
        return self.world.hub

    def member(self, role: Role) -> MemberRecord:
        """The member of ``role`` (not anonymous)."""
        return self.world.members[role.value]

    def listed(self, named: Callable[[Standing], bool]) -> tuple[str, ...]:
        return tuple(self.member(r).id for r, s in STANDING.items() if named(s))

    def signed_policy(
        self,
        feed_id: str,
        *,
        version: int,
        previous: str | None,
        valid_from: datetime,
        valid_until: datetime | None = None,
        owner: str = Role.OWNER.value,
        template: str = "community",
    ) -> dict[str, Any]:
        """``owner``'s signed policy for ``feed_id`` naming readers and writers per `STANDING`."""
        signer = self.world.members[owner]
        policy = policy_from_template(
            template,
            feed=feed_id,
            owner=signer.id,
            valid_from=valid_from,
            version=version,
            previous=previous,
            readers=self.listed(lambda s: s.policy_read),
            writers=self.listed(lambda s: s.policy_write),
        )
        document = policy_document(policy)
        document["tlp"] = TLP_MARKINGS[TlpLevel.CLEAR]  # the seeded and posted STIX is plain
        if valid_until is not None:
            utc = valid_until.astimezone(UTC).replace(tzinfo=None)
            document["valid_until"] = utc.isoformat(timespec="seconds") + "Z"
        signatures = sign_document(self.secrets[signer.id], POLICY_LABEL, document)
        return {"policy": document, "signatures": signatures}

    def next_policy(
        self, feed_id: str, *, owner: str = Role.OWNER.value, template: str = "community"
    ) -> bytes:
        """The next version of the feed's policy, in force from a minute ago."""
        with read_transaction(self.hub.engine) as conn:
            latest = self.hub.policies.latest(conn, feed_id)
        signed = self.signed_policy(
            feed_id,
            version=1 if latest is None else latest.number + 1,
            previous=None if latest is None else latest.digest,
            valid_from=datetime.now(UTC) - timedelta(minutes=1),
            owner=owner,
            template=template,
        )
        return orjson.dumps(signed)

    def store_expired_policy(self, feed_id: str) -> None:
        """Store version 1 of a policy that was in force the day before yesterday only.

        Written with the store: the hub refuses to publish a policy whose window has ended.
        """
        now = datetime.now(UTC)
        signed = parse_signed_policy(
            self.signed_policy(
                feed_id,
                version=1,
                previous=None,
                valid_from=now - timedelta(days=2),
                valid_until=now - timedelta(days=1),
            )
        )
        text = orjson.dumps(signed.to_json()).decode()
        with write_transaction(self.hub.engine) as conn:
            self.hub.policies.add(
                conn, StoredDocument(feed_id, 1, signed.digest, text, micros_now())
            )

    def seed_object(self, feed_id: str) -> str:
        """Store a fresh indicator in the feed (with the store: no access check); return its id."""
        self._counts = None
        raw = self.stix.indicator()
        with write_transaction(self.hub.engine) as conn:
            self.hub.objects.add(
                conn,
                CollectionId(feed_id),
                [validate_object(raw, stix_id=raw["id"])],
                micros_now(),
            )
        return str(raw["id"])

    def seed_status(self, feed_id: str, object_id: str, poster: str) -> str:
        """Store the status of an add of ``object_id`` to the feed by ``poster``; return its id."""
        status_id = StatusId(str(self.stix.uuid()))
        record = StatusRecord(
            id=status_id,
            feed_id=CollectionId(feed_id),
            member_id=MemberId(poster),
            request_timestamp=micros_now(),
            successes=(StatusDetail(object_id, T0),),
            failures=(),
        )
        with write_transaction(self.hub.engine) as conn:
            self.hub.statuses.add(conn, record)
        return status_id

    def make_feed(self, state: FeedState, alias: str) -> Refs:
        """A feed owned by the owner, granted per `STANDING`, in the existing ``state``."""
        assert state.exists, state
        self._counts = None
        hub = self.hub
        feed = admin.add_feed(hub, alias, f"Matrix feed ({state})", owner=Role.OWNER.value)
        for role, standing in STANDING.items():
            if role is not Role.OWNER and standing.granted:
                admin.grant(
                    hub, role.value, alias, read=standing.grant_read, write=standing.grant_write
                )
        owner = self.member(Role.OWNER)
        if state in (FeedState.IN_FORCE, FeedState.PUBLIC):
            template = "public" if state is FeedState.PUBLIC else "community"
            body = self.next_policy(feed.id, template=template)
            publish_policy(hub, owner, alias, body, now=datetime.now(UTC))
            admin.set_public(hub, alias, state is FeedState.PUBLIC)
        elif state is FeedState.EXPIRED:
            self.store_expired_policy(feed.id)
        return self.seeded(feed.id, alias, owner.id)

    def make_hidden_feed(self) -> Refs:
        """The stranger's feed: an object, the stranger's status, a policy in force naming
        readers and writers per `STANDING`, and no grant to any caller."""
        hub = self.hub
        stranger = self.world.members[STRANGER]
        feed = admin.add_feed(hub, HIDDEN_ALIAS, "Hidden from every caller", owner=STRANGER)
        body = self.next_policy(feed.id, owner=STRANGER)
        publish_policy(hub, stranger, HIDDEN_ALIAS, body, now=datetime.now(UTC))
        return self.seeded(feed.id, HIDDEN_ALIAS, stranger.id)

    def seeded(self, feed_id: str, alias: str, owner_id: str) -> Refs:
        """Seed ``feed_id`` with an object and its owner's status; return its `Refs`."""
        object_id = self.seed_object(feed_id)
        return Refs(
            feed_id=feed_id,
            alias=alias,
            object_id=object_id,
            status_id=self.seed_status(feed_id, object_id, owner_id),
            owner_id=owner_id,
            envelope=orjson.dumps({"objects": [self.stix.indicator()]}),
        )

    def scratch_feed(self, state: FeedState) -> Refs:
        """A new feed in ``state``, for one cell alone."""
        return self.make_feed(state, f"scratch-{next(self._scratch)}")

    def counts(self) -> tuple[int, ...]:
        """How many rows each table holds (a refused request changes none)."""
        every = (
            tables.member,
            tables.token,
            tables.feed,
            tables.grant,
            tables.stix_object,
            tables.status,
            tables.key_bundle,
            tables.policy_version,
        )
        query = select(*(select(func.count()).select_from(t).scalar_subquery() for t in every))
        with read_transaction(self.hub.engine) as conn:
            return tuple(conn.execute(query).one())

    def counts_before(self, *, refusal: bool) -> tuple[int, ...] | None:
        """The row counts before a request that the hub should refuse (else None).

        The counts a refused request was checked to leave are reused until a request
        that should succeed, or a seed, may change them: one query per refusal, not two.
        """
        if not refusal:
            self._counts = None
            return None
        if self._counts is None:
            self._counts = self.counts()
        return self._counts

    def assert_unchanged(self, before: tuple[int, ...]) -> None:
        """Check the row counts are still ``before`` (and remember them as they are)."""
        self._counts = self.counts()
        assert self._counts == before, "a refused request changed the hub"

    def rows_of(self, feed_id: str) -> tuple[object, ...]:
        """Every row about the feed (a refused request on the hidden feed changes none)."""
        with read_transaction(self.hub.engine) as conn:
            return tuple(
                tuple(conn.execute(select(t).where(column == feed_id).order_by(*t.primary_key)))
                for t, column in (
                    (tables.feed, tables.feed.c.id),
                    (tables.grant, tables.grant.c.feed_id),
                    (tables.stix_object, tables.stix_object.c.feed_id),
                    (tables.status, tables.status.c.feed_id),
                    (tables.policy_version, tables.policy_version.c.feed_id),
                )
            )

    def send(self, route: Route, url: str, role: Role, body: Body | None) -> httpx.Response:
        """Send ``route``'s method to ``url`` as ``role``, with ``body``."""
        headers = {"Accept": TAXII_21 if route.path.startswith("/taxii2/") else "application/json"}
        if role is not Role.ANONYMOUS:
            headers["Authorization"] = self.authorization[role]
        if body is not None:
            headers["Content-Type"] = body.content_type
        response = self.world.client.request(
            route.method, url, content=None if body is None else body.content, headers=headers
        )
        assert isinstance(response, httpx.Response), type(response)
        return response

    def refusal(self, route: Route, url: str, role: Role, body: Body | None) -> Answer:
        """The answer to ``route`` at ``url`` as ``role``, with ``body``: a request the
        hub refuses, so that it changes nothing and equal ones get equal answers.

        Cached by request: sent the first time only.
        """
        key = (route.method, url, role, None if body is None else body.content)
        if key not in self._refusals:
            self._refusals[key] = answer(self.send(route, url, role, body))
        return self._refusals[key]


def _seed_access_log(hub: Hub) -> None:
    """One entry in the access log and a checkpoint of it, for the log routes' cells."""
    leaf = NewLeaf(time=1, action="seed", member_id=None, feed_id=None, data=_SEED_EVENT)
    with write_transaction(hub.engine) as conn:
        hub.logs.append(conn, LogName.ACCESS, [leaf])
    issue_checkpoints(hub)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def build_matrix(hub: Hub) -> Matrix:
    """The conftest's world, more members, a feed in each state, and every caller's header.

    The revoked and the disabled member get their grants (`make_feed`) while
    their tokens still work; then one's tokens are revoked and the other is disabled.
    """
    world = build_world(hub)
    more = [
        (Role.GRANTED.value, MemberKind.INDUSTRY),
        (Role.NAMED.value, MemberKind.RESEARCH),
        (Role.REVOKED.value, MemberKind.AUTHORITY),
        (Role.DISABLED.value, MemberKind.AUTHORITY),
        (STRANGER, MemberKind.AUTHORITY),
    ]
    for name, kind in more:
        world.members[name], world.tokens[name] = admin.add_member(hub, name, kind)
    assert world.owner_keys is not None
    assert world.owner_keys.registered
    stranger_keys = OwnerKeys(world.members[STRANGER])
    stranger_keys.register(hub)
    matrix = Matrix(
        world,
        StixFactory(3),
        secrets={
            world.members["owner"].id: world.owner_keys.secrets,
            world.members[STRANGER].id: stranger_keys.secrets,
        },
    )
    for state in EXISTING:
        matrix.feeds[state] = matrix.make_feed(state, state.value)
    matrix.feeds[FeedState.HIDDEN] = matrix.make_hidden_feed()
    matrix.feeds[FeedState.ABSENT] = matrix.feeds[FeedState.HIDDEN].absent()
    admin.revoke_tokens(hub, Role.REVOKED.value)
    admin.disable_member(hub, Role.DISABLED.value)

    token = world.tokens[Role.OWNER.value]
    for role in STANDING:
        matrix.authorization[role] = f"Bearer {world.tokens[role.value]}"
    matrix.authorization.update(
        {
            Role.EMPTY: "",
            Role.OTHER_SCHEME: f"Token {token}",
            Role.EMPTY_BEARER: "Bearer",
            Role.BLANK: " \t ",
            Role.NOT_BASE64: "Basic *not base64*",
            Role.NOT_UTF8: "Basic " + base64.b64encode(b"\xff\xfe:" + token.encode()).decode(),
            Role.NO_COLON: "Basic " + base64.b64encode(token.encode()).decode(),
            Role.WRONG_TOKEN: f"Bearer {NEVER_ISSUED}",
            Role.WRONG_MEMBER: _basic(world.members[Role.READER.value].id, token),
        }
    )
    return matrix


@pytest.fixture(scope="module", params=BACKENDS)
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    """One `Matrix` per storage backend, shared by every cell.

    The client is entered, so that every request runs on one event loop (else each starts
    a thread and a loop of its own), and the hub's lifespan runs; its background
    checkpoints and purges are off, so that only the cells' requests change the hub, and
    so are the per-caller rate limits (every request comes from one address, thousands a
    minute; ``tests/exchange/test_limits.py`` tests them).

    Nearly every request commits (the access log records it), and the matrix is about
    who may do what, not about durability: commits do not wait for the disk. SQLite
    lives in memory (``/dev/shm``, where there is one: the hub's code and its
    ``synchronous=FULL`` are unchanged, only the fsync is free) and PostgreSQL's
    database has ``synchronous_commit`` off.
    """
    values: dict[str, Any] = {
        "purge_interval": 0,
        "checkpoint_interval": 0,
        "rate_limit": 0,
        "max_concurrent_requests": 0,
    }
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            url = request.getfixturevalue("postgres_databases")()
            _commit_without_flush(url)
            values["database_url"] = url
            values["home"] = tmp_path_factory.mktemp("matrix")
        elif SHM.is_dir():
            values["home"] = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=SHM)))
        else:
            values["home"] = tmp_path_factory.mktemp("matrix")
        hub = Hub.open(HubSettings(**values))
        stack.callback(hub.close)
        built = build_matrix(hub)
        _seed_access_log(hub)
        with built.world.client:
            yield built


SHM = Path("/dev/shm")


def _commit_without_flush(url: str) -> None:
    """Have commits to the database at ``url`` return before the WAL reaches the disk."""
    name = make_url(url).database
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# The table: one row per route.


class Need(Enum):
    """What a route needs of its caller."""

    ANYONE = "nothing: public"
    MEMBER = "any member"
    POSTER = "the member that posted the status"
    SEE = "a grant on the feed"
    READ = "read, by grant and by the policy in force"
    WRITE = "write, by grant and by the policy in force"
    READ_WRITE = "read and write, by grant and by the policy in force"
    OWNER = "the feed's owner"


@dataclass(frozen=True)
class Body:
    """A request body, and what to record once the hub has accepted it."""

    content_type: str
    content: bytes
    accepted: Callable[[], None] | None = None


@dataclass(frozen=True)
class Cell:
    """One request of the matrix: a route, as a caller, on a feed in a state."""

    matrix: Matrix
    route: Route
    role: Role
    state: FeedState
    refs: Refs

    @property
    def caller(self) -> MemberRecord | None:
        """The calling member (None: anonymous, or credentials that prove no one)."""
        return self.matrix.member(self.role) if authenticates(self.role) else None

    @property
    def me(self) -> str:
        """The caller's member id; for a caller proving no one, the feed owner's (whose
        keys it would send)."""
        caller = self.caller
        return self.refs.owner_id if caller is None else caller.id


Check = Callable[[Cell, httpx.Response], None]
BodyMaker = Callable[[Cell], Body]


@dataclass(frozen=True)
class Row:
    """How to call a route and what it answers."""

    need: Need
    ok: int
    check: Check
    body: BodyMaker | None = None
    policy_document: bool = False  # answers a stored policy version: 404 while there is none
    keys_of_caller: bool = False  # {member_id} is the caller (else the feed's owner)
    own_object: bool = False  # a success deletes the object: seed one for each cell
    own_feed: bool = False  # a success changes the policy state: a feed for each cell
    anonymous: bool = False  # anonymous callers read it on a public feed
    query: str = ""  # the query string the route needs
    media_type: str | None = None  # of a success, if not the prefix's JSON


def fill(cell: Cell, row: Row, refs: Refs) -> str:
    """``cell``'s path with every parameter filled from ``refs``."""
    values = {
        "api_root": "trends",
        "collection_id": refs.feed_id,  # TAXII clients name a collection by its id
        "feed": refs.alias,  # the exchange API takes an alias too
        "object_id": refs.object_id,
        "status_id": refs.status_id,
        "member_id": cell.me if row.keys_of_caller else refs.owner_id,
        "version": "1",
        "log": "access",
    }
    unknown = cell.route.params - values.keys()
    assert not unknown, f"{cell.route}: no value for {unknown}; extend fill()"
    return cell.route.path.format_map(values) + row.query


# Bodies.


def envelope(cell: Cell) -> Body:
    """The refs' envelope: its first add stores the object, every later one finds it stored."""
    return Body(TAXII_21, cell.refs.envelope)


def next_key_bundle(cell: Cell) -> Body:
    """The caller's next key bundle: its first, or a rotation endorsed by the one in force."""
    matrix, member = cell.matrix, cell.me
    with read_transaction(matrix.hub.engine) as conn:
        previous = current_bundle(matrix.hub, conn, member)
    fresh = MemberSecrets.generate()
    bundle = build_key_bundle(
        fresh,
        member=member,
        sequence=1 if previous is None else previous.keys.sequence + 1,
        previous=previous,
        endorser=None if previous is None else matrix.secrets[member],
    )

    def accepted() -> None:
        matrix.secrets[member] = fresh

    return Body("application/json", orjson.dumps(bundle.model_dump(mode="json")), accepted)


def next_policy(cell: Cell) -> Body:
    """The next version of the feed's policy, signed by its owner (an absent feed's: the
    owner's of the others)."""
    owner = STRANGER if cell.state is FeedState.HIDDEN else Role.OWNER.value
    return Body("application/json", cell.matrix.next_policy(cell.refs.feed_id, owner=owner))


# Success checks: the right resource, about the right things.


def _json(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict), body
    return body


def discovery(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert body["api_roots"] == ["/taxii2/trends/"]
    assert body["default"] == "/taxii2/trends/"


def api_root(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert body["versions"] == [TAXII_21]
    assert isinstance(body["max_content_length"], int)


def _collection_rights(cell: Cell, collection: dict[str, Any]) -> None:
    assert collection["id"] == cell.refs.feed_id
    assert collection["alias"] == cell.refs.alias
    assert (collection["can_read"], collection["can_write"]) == rights(cell.role, cell.state)


def collections(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    listed = {c["id"]: c for c in body.get("collections", [])}
    if cell.state.exists and STANDING[cell.role].granted:
        _collection_rights(cell, listed[cell.refs.feed_id])
    else:
        assert cell.refs.feed_id not in listed
    assert cell.matrix.feeds[FeedState.HIDDEN].feed_id not in listed
    if not listed:
        assert body == {}  # TAXII 2.1 §5.1: no collections is an empty resource


def collection(cell: Cell, response: httpx.Response) -> None:
    _collection_rights(cell, _json(response))


def manifest(cell: Cell, response: httpx.Response) -> None:
    records = _json(response)["objects"]
    assert cell.refs.object_id in [r["id"] for r in records]
    assert all({"id", "date_added", "version"} <= r.keys() for r in records)


def objects(cell: Cell, response: httpx.Response) -> None:
    found = _json(response)["objects"]
    assert cell.refs.object_id in [o["id"] for o in found]
    assert all(o["spec_version"] == "2.1" for o in found)


def one_object(cell: Cell, response: httpx.Response) -> None:
    found = _json(response)["objects"]
    assert [o["id"] for o in found] == [cell.refs.object_id]


def added(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert body["status"] == "complete"
    assert (body["success_count"], body["failure_count"], body["pending_count"]) == (1, 0, 0)
    [posted] = orjson.loads(cell.refs.envelope)["objects"]
    assert [s["id"] for s in body["successes"]] == [posted["id"]]


def deleted(cell: Cell, response: httpx.Response) -> None:
    assert response.content == b""
    o = tables.stix_object
    query = select(func.count()).select_from(o).where(o.c.stix_id == cell.refs.object_id)
    with read_transaction(cell.matrix.hub.engine) as conn:
        assert conn.execute(query).scalar_one() == 0


def versions(cell: Cell, response: httpx.Response) -> None:
    found = _json(response)["versions"]
    assert found == [T0]  # the seeded indicator's one version


def status(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert body["id"] == cell.refs.status_id
    assert body["successes"] == [{"id": cell.refs.object_id, "version": T0}]


def whoami(cell: Cell, response: httpx.Response) -> None:
    caller = cell.caller
    assert caller is not None
    assert _json(response) == {"id": caller.id, "name": caller.name, "kind": caller.kind.value}


def extension_definitions(cell: Cell, response: httpx.Response) -> None:
    assert _json(response) == {"extension_definitions": [EXTENSION_DEFINITION]}


def bundles(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert body["member"] == cell.refs.owner_id
    assert body["bundles"]
    for raw in body["bundles"]:
        assert parse_key_bundle(raw).keys.member == cell.refs.owner_id


def registered(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert body["member"] == cell.me
    assert isinstance(body["sequence"], int)
    assert body["sequence"] >= 1
    assert body["digest"].startswith("sha256:")


def policy(cell: Cell, response: httpx.Response) -> None:
    signed = parse_signed_policy(response.content)
    assert signed.policy.feed == cell.refs.feed_id
    assert signed.policy.version == 1
    in_force = cell.state in (FeedState.IN_FORCE, FeedState.PUBLIC)
    assert signed.policy.in_force(datetime.now(UTC)) == in_force


def policy_versions(cell: Cell, response: httpx.Response) -> None:
    found = _json(response)["versions"]
    assert [v["version"] for v in found] == ([] if cell.state is FeedState.NONE else [1])
    assert all(v["digest"].startswith("sha256:") for v in found)


def published(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert body["feed"] == cell.refs.feed_id
    assert body["version"] == (1 if cell.state is FeedState.NONE else 2)
    assert body["digest"].startswith("sha256:")


def log_key(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert body["fingerprint"] == cell.matrix.hub.log_key().public.fingerprint()
    assert set(body["logs"]) == {"access", "directory"}


def checkpoint(cell: Cell, response: httpx.Response) -> None:
    key = cell.matrix.hub.log_key().public
    assert verify_checkpoint(response.text, "trend-exchange/access", key).size >= 1


def inclusion_proof(cell: Cell, response: httpx.Response) -> None:
    body = _json(response)
    assert (body["index"], body["size"]) == (0, 1)
    assert body["hashes"] == []


def consistency_proof(cell: Cell, response: httpx.Response) -> None:
    assert _json(response)["hashes"] == []


_SEED_EVENT = orjson.dumps({"action": "seed"})


def leaf_query(cell: Cell) -> Body:
    """Where the access log's seeded leaf is, in the whole log."""
    with read_transaction(cell.matrix.hub.engine) as conn:
        size = cell.matrix.hub.logs.size(conn, LogName.ACCESS)
    digest = base64.b64encode(leaf_hash(_SEED_EVENT)).decode()
    return Body("application/json", orjson.dumps({"size": size, "leaf_hashes": [digest]}))


def leaf_proofs(cell: Cell, response: httpx.Response) -> None:
    [proof] = _json(response)["proofs"]
    assert isinstance(proof["index"], int)
    assert proof["leaf_hash"] == base64.b64encode(leaf_hash(_SEED_EVENT)).decode()


def log_entries(cell: Cell, response: httpx.Response) -> None:
    found = _json(response)["entries"]
    caller = cell.caller
    assert caller is not None
    if caller.kind is MemberKind.AUDITOR:
        assert found
    for entry in found:
        assert isinstance(entry["index"], int)


_C = "/taxii2/{api_root}/collections/{collection_id}"
_P = "/exchange/v1/feeds/{feed}/policy"
_L = "/exchange/v1/logs/{log}"

TABLE: dict[str, Row] = {
    "GET /taxii2/": Row(Need.MEMBER, 200, discovery),
    "GET /taxii2/{api_root}/": Row(Need.MEMBER, 200, api_root),
    "GET /taxii2/{api_root}/status/{status_id}/": Row(Need.POSTER, 200, status),
    "GET /taxii2/{api_root}/collections/": Row(Need.MEMBER, 200, collections),
    f"GET {_C}/": Row(Need.SEE, 200, collection, anonymous=True),
    f"GET {_C}/manifest/": Row(Need.READ, 200, manifest, anonymous=True),
    f"GET {_C}/objects/": Row(Need.READ, 200, objects, anonymous=True),
    f"POST {_C}/objects/": Row(Need.WRITE, 202, added, body=envelope),
    f"GET {_C}/objects/{{object_id}}/": Row(Need.READ, 200, one_object, anonymous=True),
    f"DELETE {_C}/objects/{{object_id}}/": Row(Need.READ_WRITE, 200, deleted, own_object=True),
    f"GET {_C}/objects/{{object_id}}/versions/": Row(Need.READ, 200, versions, anonymous=True),
    "GET /exchange/v1/whoami": Row(Need.MEMBER, 200, whoami),
    "GET /exchange/v1/extension-definitions": Row(Need.MEMBER, 200, extension_definitions),
    "GET /exchange/v1/members/{member_id}/keys": Row(Need.MEMBER, 200, bundles),
    "POST /exchange/v1/members/{member_id}/keys": Row(
        Need.MEMBER, 201, registered, body=next_key_bundle, keys_of_caller=True
    ),
    f"GET {_P}": Row(Need.SEE, 200, policy, policy_document=True),
    f"GET {_P}/versions": Row(Need.SEE, 200, policy_versions),
    f"GET {_P}/versions/{{version}}": Row(Need.SEE, 200, policy, policy_document=True),
    f"POST {_P}": Row(Need.OWNER, 201, published, body=next_policy, own_feed=True),
    "GET /.well-known/trend-exchange/log-key": Row(Need.ANYONE, 200, log_key),
    f"GET {_L}/checkpoint": Row(
        Need.MEMBER, 200, checkpoint, media_type="text/plain; charset=utf-8"
    ),
    f"GET {_L}/proofs/inclusion": Row(Need.MEMBER, 200, inclusion_proof, query="?index=0&size=1"),
    f"GET {_L}/proofs/consistency": Row(Need.MEMBER, 200, consistency_proof, query="?old=1&new=1"),
    f"GET {_L}/entries": Row(Need.MEMBER, 200, log_entries),
    f"POST {_L}/proofs/leaves": Row(Need.MEMBER, 200, leaf_proofs, body=leaf_query),
}
"""Every route of the app, by ``"METHOD path"``."""

# ---------------------------------------------------------------------------------------------
# The rules.


@dataclass(frozen=True)
class Outcome:
    """An expected answer: its status, and a fragment its error description must hold."""

    status: int
    mentions: str | None = None


def expected(route: Route, row: Row, role: Role, state: FeedState) -> Outcome:
    """What a cell answers; the first rule that applies decides.

    0. a public route: success for every caller (it reads no credentials);
    1. credentials that prove no one: 401, wherever the path points;
    2. anonymous: success on a route it may read of the public feed, else 401;
    3. a route for any member: success, but 404 for a member that does not exist;
    4. a status: success for its poster (the owner; the hidden one is the stranger's),
       else 404 as if absent;
    5. a feed hidden, absent, or without a grant: 404 as if absent;
    6. seeing the feed: success; a policy document while there is none: 404;
    7. publishing its policy: success for the owner, else 403;
    8. reading, writing, deleting: success if the effective rights (`rights`) allow,
       else 403, naming the policy's reason if the grant alone would have allowed.
    """
    if row.need is Need.ANYONE:
        return Outcome(row.ok)
    if role in BAD_CREDENTIALS:
        return Outcome(401)
    if role is Role.ANONYMOUS:
        return Outcome(row.ok) if row.anonymous and state is FeedState.PUBLIC else Outcome(401)
    if row.need is Need.MEMBER:
        if state is FeedState.ABSENT and "member_id" in route.params and not row.keys_of_caller:
            return Outcome(404, "No key bundles are registered")
        return Outcome(row.ok)
    if row.need is Need.POSTER:
        if role is Role.OWNER and state.exists:
            return Outcome(row.ok)
        return Outcome(404, "No such status")
    standing = STANDING[role]
    if not (state.exists and standing.granted):
        return Outcome(404, "No such collection")
    if row.need is Need.SEE:
        if row.policy_document and state is FeedState.NONE:
            return Outcome(404, "no such sharing policy version")
        return Outcome(row.ok)
    if row.need is Need.OWNER:
        return Outcome(row.ok) if role is Role.OWNER else Outcome(403, "only its owner")
    can_read, can_write = rights(role, state)
    by_grant, allowed = {
        Need.READ: (standing.grant_read, can_read),
        Need.WRITE: (standing.grant_write, can_write),
        Need.READ_WRITE: (standing.grant_read and standing.grant_write, can_read and can_write),
    }[row.need]
    if allowed:
        return Outcome(row.ok)
    return Outcome(403, DENIAL[state] if by_grant else None)


NAMES = {"collection_id", "feed", "status_id", "member_id"}
"""The path parameters that name something a caller may not know of."""


def hides(route: Route, row: Row, role: Role, state: FeedState) -> bool:
    """Whether ``role`` may not know of the feed, status or member the path names in
    ``state`` (its answer is then the one about an absent feed, status and member)."""
    named = route.params & NAMES
    if not authenticates(role):
        readable = role is Role.ANONYMOUS and row.anonymous and state is FeedState.PUBLIC
        return bool(named) and not readable
    if named & {"collection_id", "feed"}:
        return not (state.exists and STANDING[role].granted)
    if "status_id" in named:
        return not (state.exists and role is Role.OWNER)
    return False  # every member may know every member


# ---------------------------------------------------------------------------------------------
# The tests.


def _media_type(route: Route) -> str:
    return TAXII_21 if route.path.startswith("/taxii2/") else "application/json"


def _assert_error(route: Route, response: httpx.Response, outcome: Outcome) -> None:
    assert response.status_code == outcome.status, response.text
    assert response.headers["content-type"] == _media_type(route)
    body = _json(response)
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["http_status"] == str(outcome.status)
    if outcome.mentions is not None:
        assert outcome.mentions in body["description"], body
    if outcome.status == 401:
        assert "Bearer" in response.headers["www-authenticate"]


def cell_refs(matrix: Matrix, row: Row, state: FeedState, success: bool) -> Refs:
    """What the cell's request names: the state's feed, or a feed and an object of its own
    for a success that would change them."""
    refs = matrix.feeds[state]
    if success and row.own_feed:
        refs = matrix.scratch_feed(state)
    if success and row.own_object:
        refs = replace(refs, object_id=matrix.seed_object(refs.feed_id))
    return refs


@pytest.mark.parametrize("state", list(FeedState), ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("route", APP_ROUTES, ids=str)
def test_cell(matrix: Matrix, route: Route, role: Role, state: FeedState) -> None:
    row = TABLE.get(str(route))
    if row is None:
        pytest.fail(f"{route} has no row in TABLE: say how to call it and what it answers")
    outcome = expected(route, row, role, state)
    refs = cell_refs(matrix, row, state, outcome.status < 400)
    cell = Cell(matrix, route, role, state, refs)
    body = None if row.body is None else row.body(cell)
    before = matrix.counts_before(refusal=outcome.status >= 400)
    rows_before = matrix.rows_of(refs.feed_id) if state is FeedState.HIDDEN else None

    url = fill(cell, row, refs)
    if outcome.status >= 400:
        status, headers, content = matrix.refusal(route, url, role, body)
        response = httpx.Response(status, headers=headers, content=content)
    else:
        response = matrix.send(route, url, role, body)

    if outcome.status >= 400:
        _assert_error(route, response, outcome)
    else:
        assert response.status_code == outcome.status, response.text
        assert response.headers["content-type"] == (row.media_type or _media_type(route))
        row.check(cell, response)
        if body is not None and body.accepted is not None:
            body.accepted()
    if hides(route, row, role, state):
        absent_url = fill(cell, row, refs.absent())
        assert answer(response) == matrix.refusal(route, absent_url, role, body)
    if role in BAD_CREDENTIALS and outcome.status < 400:
        # Where credentials are not read, bad ones are as good as none.
        assert answer(response) == answer(matrix.send(route, url, Role.ANONYMOUS, body))
    if before is not None:
        matrix.assert_unchanged(before)
    if rows_before is not None:
        assert matrix.rows_of(refs.feed_id) == rows_before, "a request changed the hidden feed"


def test_every_route_has_a_row() -> None:
    missing = [str(r) for r in APP_ROUTES if str(r) not in TABLE]
    assert not missing, f"routes without a row in TABLE: {missing}"


def test_every_row_has_a_route() -> None:
    served = {str(r) for r in APP_ROUTES}
    stale = [key for key in TABLE if key not in served]
    assert not stale, f"rows of TABLE for routes the app does not serve: {stale}"


def test_every_api_route_is_under_a_prefix() -> None:
    """A route elsewhere would escape the matrix."""
    outside = [path for _, path, _ in api_routes(APP) if not path.startswith(PREFIXES)]
    assert not outside


def test_the_matrix_covers_the_app() -> None:
    assert len(APP_ROUTES) == len(TABLE) >= 18
    assert {r.path.split("/")[1] for r in APP_ROUTES} == {"taxii2", "exchange", ".well-known"}


def test_the_feed_states_are_what_they_claim(matrix: Matrix) -> None:
    """In force, none, expired yet verifying (so "expired" is not "no valid policy"), public
    twice over; hidden: in force, naming the roles, with no grant to any caller; absent."""
    now = datetime.now(UTC)
    hub = matrix.hub
    stranger = matrix.world.members[STRANGER].id
    with read_transaction(hub.engine) as conn:
        assert hub.feeds.find(conn, matrix.feeds[FeedState.ABSENT].feed_id) is None
        assert hub.feeds.find(conn, matrix.feeds[FeedState.ABSENT].alias) is None
        for state in [*EXISTING, FeedState.HIDDEN]:
            refs = matrix.feeds[state]
            feed = hub.feeds.find(conn, refs.alias)
            assert feed is not None
            assert feed.id == refs.feed_id
            assert feed.public == (state is FeedState.PUBLIC)
            assert hub.statuses.get(conn, refs.status_id, MemberId(refs.owner_id)) is not None
            signed = policy_in_force(hub, conn, feed)
            if state is FeedState.NONE:
                assert hub.policies.latest(conn, feed.id) is None
                continue
            assert signed is not None, state
            in_force = state is not FeedState.EXPIRED
            assert signed.policy.in_force(now) == in_force
            assert signed.policy.public == (state is FeedState.PUBLIC)
            assert set(signed.policy.readers) >= set(matrix.listed(lambda s: s.policy_read))
            assert set(signed.policy.writers) >= set(matrix.listed(lambda s: s.policy_write))
            granted = {m: (r, w) for m, r, w in hub.feeds.grants(conn, feed.id)}
            if state is FeedState.HIDDEN:
                assert feed.owner_id == stranger
                assert set(granted) <= {stranger}
                continue
            assert granted == {
                matrix.member(role).id: (s.grant_read, s.grant_write)
                for role, s in STANDING.items()
                if s.granted
            }


def test_the_callers_are_what_they_claim(matrix: Matrix) -> None:
    """Members prove themselves and every bad credential is refused; the revoked token was
    issued, the disabled member's too, the token never issued was not, and the token the
    other scheme and the wrong member carry is a valid one."""
    assert set(Role) == {Role.ANONYMOUS} | BAD_CREDENTIALS | STANDING.keys()
    hub = matrix.hub
    for role in Role:
        header = matrix.authorization.get(role)
        if authenticates(role):
            assert authenticate(hub, header).id == matrix.member(role).id
        elif role is not Role.ANONYMOUS:
            with pytest.raises(AuthenticationFailed, match="Valid credentials are required"):
                authenticate(hub, header)
    owner = matrix.member(Role.OWNER).id
    assert authenticate(hub, f"Bearer {matrix.world.tokens[Role.OWNER.value]}").id == owner
    t = tables.token
    with read_transaction(hub.engine) as conn:
        tokens = {
            h: (m, revoked)
            for h, m, revoked in conn.execute(select(t.c.hash, t.c.member_id, t.c.revoked_at))
        }
        disabled = hub.members.find(conn, matrix.member(Role.DISABLED).id)
        revoked = hub.members.find(conn, matrix.member(Role.REVOKED).id)
    assert hash_token(NEVER_ISSUED) not in tokens
    assert disabled is not None
    assert disabled.disabled
    assert tokens[hash_token(matrix.world.tokens[Role.DISABLED.value])] == (disabled.id, None)
    assert revoked is not None
    assert not revoked.disabled
    member, revoked_at = tokens[hash_token(matrix.world.tokens[Role.REVOKED.value])]
    assert member == revoked.id
    assert revoked_at is not None
