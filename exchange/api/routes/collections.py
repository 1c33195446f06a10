"""Collections (TAXII 2.1 §5.1, §5.2)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request

from exchange.api.audit import log_access
from exchange.api.deps import ApiRootDep, CurrentMember, HubDep, MemberOrAnonymous
from exchange.api.negotiation import AcceptsTaxii
from exchange.api.openapi import AUTHENTICATED, errors
from exchange.api.responses import TaxiiResponse
from exchange.db.records import FeedAccess
from exchange.protocol.media import STIX_21
from exchange.protocol.taxii import Collection, Collections
from exchange.services.queries import get_collection, list_collections

router = APIRouter(default_response_class=TaxiiResponse)

CollectionRef = Annotated[str, Path(description="Collection id or alias")]


def collection_body(access: FeedAccess) -> dict[str, object]:
    """Return a feed as the TAXII ``collection`` resource (§5.2.1)."""
    feed = access.feed
    return Collection(
        id=feed.id,
        title=feed.title,
        description=feed.description,
        alias=feed.alias,
        can_read=access.can_read,
        can_write=access.can_write,
        media_types=[STIX_21],
    ).to_json_dict()


@router.get(
    "/taxii2/{api_root}/collections/",
    response_model=Collections,
    summary="Get Collections (§5.1)",
    responses=errors(*AUTHENTICATED, 404, 406),
)
def get_collections(
    member: CurrentMember, _accept: AcceptsTaxii, _root: ApiRootDep, hub: HubDep, request: Request
) -> TaxiiResponse:
    """TAXII 2.1 §5.1: the collections the caller holds a grant on; others are not listed."""
    feeds = list_collections(hub, member)
    log_access(hub, request, member, detail={"feeds": [a.feed.id for a in feeds]})
    body = {"collections": [collection_body(a) for a in feeds]} if feeds else {}
    return TaxiiResponse(body)


@router.get(
    "/taxii2/{api_root}/collections/{collection_id}/",
    response_model=Collection,
    summary="Get a Collection (§5.2)",
    responses=errors(*AUTHENTICATED, 404, 406),
)
def get_collection_resource(
    member: MemberOrAnonymous,
    _accept: AcceptsTaxii,
    _root: ApiRootDep,
    hub: HubDep,
    collection_id: CollectionRef,
    request: Request,
) -> TaxiiResponse:
    """TAXII 2.1 §5.2: one collection, by id or alias; a hidden one answers 404."""
    access = get_collection(hub, member, collection_id)
    log_access(hub, request, member, feed=access.feed.id)
    return TaxiiResponse(collection_body(access))
