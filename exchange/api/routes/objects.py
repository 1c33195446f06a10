"""Objects of a collection (TAXII 2.1 §5.4–§5.8)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from exchange.api.audit import request_id
from exchange.api.body import read_body
from exchange.api.deps import ApiRootDep, CurrentMember, HubDep, MemberOrAnonymous
from exchange.api.negotiation import AcceptsTaxii, TaxiiBody
from exchange.api.openapi import (
    AUTHENTICATED,
    DATE_ADDED_HEADERS,
    envelope_body,
    errors,
    filter_parameters,
)
from exchange.api.pagination import Filters, parse_page_request
from exchange.api.responses import TaxiiResponse
from exchange.api.routes._paging import serve_page
from exchange.api.routes.collections import CollectionRef
from exchange.api.routes.status import status_body
from exchange.db.objects import PageKind
from exchange.db.records import VersionFilter
from exchange.errors import ObjectNotFound
from exchange.protocol.ids import StixId, is_stix_id
from exchange.protocol.media import TAXII_21
from exchange.protocol.taxii import Envelope, Status, Versions
from exchange.protocol.timestamps import micros_now
from exchange.services.access import Action
from exchange.services.ingest import add_objects
from exchange.services.queries import delete_object, get_collection

router = APIRouter(default_response_class=TaxiiResponse)

ObjectRef = Annotated[str, Path(description="A STIX object id")]

_ALL_FILTERS = Filters.ID | Filters.TYPE | Filters.VERSION | Filters.SPEC_VERSION | Filters.PAGING
_OBJECT_FILTERS = Filters.VERSION | Filters.SPEC_VERSION | Filters.PAGING
_DELETE_FILTERS = Filters.VERSION | Filters.SPEC_VERSION
_VERSIONS_FILTERS = Filters.SPEC_VERSION | Filters.PAGING
_SAME_COLLECTION = {
    "api_root": "$request.path.api_root",
    "collection_id": "$request.path.collection_id",
}
_FIRST_ADDED = "$response.body#/successes/0/id"
_ADDED = {
    "GetStatus": {
        "operationId": "get_status_resource",
        "parameters": {"api_root": "$request.path.api_root", "status_id": "$response.body#/id"},
    },
    "GetObject": {
        "operationId": "get_object",
        "parameters": {**_SAME_COLLECTION, "object_id": _FIRST_ADDED},
    },
    "GetObjectVersions": {
        "operationId": "get_object_versions",
        "parameters": {**_SAME_COLLECTION, "object_id": _FIRST_ADDED},
    },
    "DeleteObject": {
        "operationId": "delete_object_resource",
        "parameters": {**_SAME_COLLECTION, "object_id": _FIRST_ADDED},
    },
}
"""What an add's status names, for the operations that take it (OpenAPI links)."""
_PAGE = {200: {"headers": DATE_ADDED_HEADERS}, **errors(*AUTHENTICATED, 403, 404, 406)}
_OBJECTS = "/taxii2/{api_root}/collections/{collection_id}/objects/"


def _stix_id(object_id: str) -> StixId:
    if not is_stix_id(object_id):
        raise ObjectNotFound()
    return StixId(object_id)


@router.get(
    _OBJECTS,
    response_model=Envelope,
    summary="Get Objects (§5.4)",
    responses=_PAGE,
    openapi_extra=filter_parameters(_ALL_FILTERS),
)
def get_objects(
    member: MemberOrAnonymous,
    _accept: AcceptsTaxii,
    _root: ApiRootDep,
    hub: HubDep,
    collection_id: CollectionRef,
    request: Request,
) -> TaxiiResponse:
    """TAXII 2.1 §5.4: a page of objects, ascending by ``date_added``.

    Filters: ``added_after``, ``limit``, ``next``, ``match[id|type|version|spec_version]``.
    """
    return serve_page(
        hub, member, request, collection_id, kind=PageKind.OBJECTS, takes=_ALL_FILTERS
    )


@router.post(
    _OBJECTS,
    response_model=Status,
    status_code=202,
    summary="Add Objects (§5.5)",
    responses=errors(*AUTHENTICATED, 403, 404, 406, 413, 415, 422),
    openapi_extra=envelope_body(_ADDED),
)
async def post_objects(
    member: CurrentMember,
    _accept: AcceptsTaxii,
    _root: ApiRootDep,
    _body: TaxiiBody,
    hub: HubDep,
    collection_id: CollectionRef,
    request: Request,
) -> TaxiiResponse:
    """TAXII 2.1 §5.5: add an envelope of objects; answers 202 with the status resource.

    Each object is validated as STIX 2.1; failures are listed in the status and
    never stored. Re-posting an identical object version is a success.
    """
    await run_in_threadpool(get_collection, hub, member, collection_id, Action.WRITE)
    body = await read_body(request, hub.settings.max_content_length)
    record = await run_in_threadpool(
        add_objects,
        hub,
        member,
        collection_id,
        body,
        now=micros_now(),
        request_id=request_id(request),
    )
    return TaxiiResponse(status_body(record), status_code=202)


@router.get(
    _OBJECTS + "{object_id}/",
    response_model=Envelope,
    summary="Get an Object (§5.6)",
    responses=_PAGE,
    openapi_extra=filter_parameters(_OBJECT_FILTERS),
)
def get_object(
    member: MemberOrAnonymous,
    _accept: AcceptsTaxii,
    _root: ApiRootDep,
    hub: HubDep,
    collection_id: CollectionRef,
    object_id: ObjectRef,
    request: Request,
) -> TaxiiResponse:
    """TAXII 2.1 §5.6: versions of one object (default the latest).

    Filters: ``added_after``, ``limit``, ``next``, ``match[version|spec_version]``.
    """
    return serve_page(
        hub,
        member,
        request,
        collection_id,
        kind=PageKind.OBJECTS,
        takes=_OBJECT_FILTERS,
        stix_id=_stix_id(object_id),
    )


@router.delete(
    _OBJECTS + "{object_id}/",
    summary="Delete an Object (§5.7)",
    response_class=Response,  # documents a 200 without a body
    response_description="The versions are deleted; no body.",
    responses=errors(*AUTHENTICATED, 403, 404, 406, media_type=TAXII_21),
    openapi_extra=filter_parameters(_DELETE_FILTERS),
)
def delete_object_resource(
    member: CurrentMember,
    _accept: AcceptsTaxii,
    _root: ApiRootDep,
    hub: HubDep,
    collection_id: CollectionRef,
    object_id: ObjectRef,
    request: Request,
) -> TaxiiResponse:
    """TAXII 2.1 §5.7: delete an object's versions (``match[version|spec_version]``, default all).

    Needs both read and write rights.
    """
    query = parse_page_request(
        request.query_params.multi_items(),
        _DELETE_FILTERS,
        max_page_size=hub.settings.max_page_size,
        stix_id=_stix_id(object_id),
        default_versions=VersionFilter(all=True),
    ).query
    delete_object(hub, member, collection_id, query, request_id=request_id(request))
    return TaxiiResponse(b"", status_code=200)


@router.get(
    _OBJECTS + "{object_id}/versions/",
    response_model=Versions,
    summary="Get Object Versions (§5.8)",
    responses=_PAGE,
    openapi_extra=filter_parameters(_VERSIONS_FILTERS),
)
def get_object_versions(
    member: MemberOrAnonymous,
    _accept: AcceptsTaxii,
    _root: ApiRootDep,
    hub: HubDep,
    collection_id: CollectionRef,
    object_id: ObjectRef,
    request: Request,
) -> TaxiiResponse:
    """TAXII 2.1 §5.8: the versions of one object, ascending by ``date_added``.

    Filters: ``added_after``, ``limit``, ``next``, ``match[spec_version]``.
    """
    return serve_page(
        hub,
        member,
        request,
        collection_id,
        kind=PageKind.VERSIONS,
        takes=_VERSIONS_FILTERS,
        stix_id=_stix_id(object_id),
    )
