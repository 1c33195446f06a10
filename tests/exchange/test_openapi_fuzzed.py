"""Fuzzing every operation of the hub's OpenAPI document with schemathesis (issue 8, item 2).

The document comes from the app itself (``/openapi.json``), and schemathesis calls
the app in-process (its ASGI transport) as the owner of a feed that holds objects
and a policy in force, with the real API root, feed, objects, status and member in
the path, so requests reach the routes' handlers rather than stopping at 401 or 404.
Every response must be no server error, carry a status the operation declares, a
body and headers that match their declared schemas and a declared media type; on
TAXII routes that media type is TAXII 2.1 on every status (TAXII 2.1 §3.1). A
route that declares authentication must refuse the same request without it, or
with made-up credentials (schemathesis's ``ignored_auth`` probes).

`MAX_EXAMPLES` bounds the examples per operation for CI; set ``EXCHANGE_FUZZ_EXAMPLES``
for a deeper run. The stateful test follows the document's links (an add's status,
the objects it added) through the same checks.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exchange.app import create_app
from exchange.protocol.media import TAXII_21
from exchange.services.hub import Hub
from exchange.services.logs import issue_checkpoints
from exchange.settings import HubSettings
from tests.exchange.conftest import StixFactory, World, build_world

Case: TypeAlias = schemathesis.Case[Any]

MAX_EXAMPLES = int(os.environ.get("EXCHANGE_FUZZ_EXAMPLES", "12"))
"""Examples per operation (and steps of the stateful test): bounded for CI."""


def taxii_media_type(ctx: CheckContext, response: schemathesis.Response, case: Case) -> None:
    """A TAXII route answers with the TAXII 2.1 media type, whatever its status (§3.1)."""
    if case.operation.path.startswith("/taxii2/"):
        assert response.headers.get("content-type") == [TAXII_21], (
            f"{case.operation.label} answered {response.status_code} as"
            f" {response.headers.get('content-type')}"
        )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
    ignored_auth,
    taxii_media_type,
]


APP = create_app(HubSettings(home=Path("unused")))  # never started: only its document is read
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.config.generation.update(max_examples=MAX_EXAMPLES)


@dataclass(frozen=True, repr=False)
class Target:
    """The hub under test, how to call it, and the real values of its path parameters."""

    world: World
    path: dict[str, str]
    doomed: str  # an object of its own for DELETE, so the others stay readable

    def __repr__(self) -> str:
        # Short: hypothesis prints it with a failing example (the world's repr is ~40 kB,
        # and hypothesis's warning about it, an error here, would hide the failure).
        return f"Target(path={self.path!r}, doomed={self.doomed!r})"

    def fill(self, case: Case, names: Collection[str] | None = None) -> None:
        """Give ``case``'s path parameters (of ``names``; all by default) real values."""
        path = {**case.path_parameters}
        for name in path.keys() & self.path.keys():
            if names is None or name in names:
                path[name] = self.path[name]
        if names is None and case.method.upper() == "DELETE":
            path["object_id"] = self.doomed
        case.path_parameters = path

    @property
    def headers(self) -> dict[str, str]:
        """The feed owner's credentials, accepting what every route answers."""
        accept = f"{TAXII_21}, application/json, text/plain"
        return {"Authorization": f"Bearer {self.world.tokens['owner']}", "Accept": accept}


def build_target(world: World, stix: StixFactory) -> Target:
    """Objects and a status in the world's feed, and a checkpoint of each log."""
    kept, doomed = stix.indicator(), stix.indicator()
    status = world.post_ok([kept, stix.note(), doomed])
    issue_checkpoints(world.hub)
    path = {
        "api_root": "trends",
        "collection_id": "reports",
        "feed": "reports",
        "object_id": kept["id"],
        "status_id": status["id"],
        "member_id": world.members["owner"].id,
    }
    return Target(world, path, doomed["id"])


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A `Target` on SQLite, shared by every operation."""
    hub = Hub.open(HubSettings(home=tmp_path_factory.mktemp("fuzzed")))
    built = build_target(build_world(hub), StixFactory(8))
    yield built
    shutdown_lifespans()  # the app's, which schemathesis started on the first call
    built.world.client.close()
    hub.close()


@schema.parametrize()
def test_every_operation(target: Target, case: Case) -> None:
    target.fill(case)
    app = case.operation.schema.app = target.world.client.app  # ignored_auth's probes: ASGI too
    case.call_and_validate(app=app, headers=target.headers, checks=CHECKS)


ADD = "POST /taxii2/{api_root}/collections/{collection_id}/objects/"
LINKED = ("api_root", "collection_id")
"""What the stateful test fills in; the rest comes from the links (an add's status)."""


def test_linked_operations(target: Target, stix: StixFactory) -> None:
    """Add an object, then follow the status's links: read the status, the object, its
    versions, delete it; each step through the same checks. The adds are of valid STIX
    (a fuzzed envelope is refused, and names nothing to follow)."""

    class Linked(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Case) -> None:
            target.fill(case, LINKED)
            if case.operation.label == ADD:
                case.body = {"objects": [stix.indicator()]}

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"app": target.world.client.app, "headers": target.headers}

        def validate_response(
            self,
            response: schemathesis.Response,
            case: Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    schema.app = target.world.client.app
    Linked.run(
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
