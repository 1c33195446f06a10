"""Status resources (TAXII 2.1 §4.3)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request

from exchange.api.audit import log_access
from exchange.api.deps import ApiRootDep, CurrentMember, HubDep
from exchange.api.negotiation import AcceptsTaxii
from exchange.api.openapi import AUTHENTICATED, errors
from exchange.api.responses import TaxiiResponse
from exchange.db.statuses import StatusRecord
from exchange.protocol.taxii import Status
from exchange.protocol.timestamps import format_timestamp
from exchange.services.queries import get_status

router = APIRouter(default_response_class=TaxiiResponse)


def status_body(record: StatusRecord) -> dict[str, object]:
    """Return a status record as the TAXII ``status`` resource (§4.3.1)."""
    body: dict[str, object] = {
        "id": record.id,
        "status": record.status,
        "request_timestamp": format_timestamp(record.request_timestamp),
        "total_count": len(record.successes) + len(record.failures) + len(record.pendings),
        "success_count": len(record.successes),
        "failure_count": len(record.failures),
        "pending_count": len(record.pendings),
    }
    for name, details in (
        ("successes", record.successes),
        ("failures", record.failures),
        ("pendings", record.pendings),
    ):
        if details:
            body[name] = [d.to_json_dict() for d in details]
    return body


@router.get(
    "/taxii2/{api_root}/status/{status_id}/",
    response_model=Status,
    summary="Get Status (§4.3)",
    responses=errors(*AUTHENTICATED, 404, 406),
)
def get_status_resource(
    member: CurrentMember,
    _accept: AcceptsTaxii,
    _root: ApiRootDep,
    hub: HubDep,
    status_id: Annotated[str, Path(description="A status id")],
    request: Request,
) -> TaxiiResponse:
    """TAXII 2.1 §4.3: the outcome of an add; visible only to the member that posted it."""
    record = get_status(hub, member, status_id)
    log_access(hub, request, member, feed=record.feed_id, detail={"status": record.id})
    return TaxiiResponse(status_body(record))
