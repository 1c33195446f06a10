"""The manifest of a collection (TAXII 2.1 §5.3)."""

from fastapi import APIRouter, Request

from exchange.api.deps import ApiRootDep, HubDep, MemberOrAnonymous
from exchange.api.negotiation import AcceptsManifest
from exchange.api.openapi import AUTHENTICATED, DATE_ADDED_HEADERS, errors, filter_parameters
from exchange.api.pagination import Filters
from exchange.api.responses import TaxiiResponse
from exchange.api.routes._paging import serve_page
from exchange.api.routes.collections import CollectionRef
from exchange.db.objects import PageKind
from exchange.protocol.taxii import Manifest

router = APIRouter(default_response_class=TaxiiResponse)

_TAKES = Filters.ID | Filters.TYPE | Filters.VERSION | Filters.SPEC_VERSION | Filters.PAGING


@router.get(
    "/taxii2/{api_root}/collections/{collection_id}/manifest/",
    response_model=Manifest,
    summary="Get Object Manifests (§5.3)",
    responses={200: {"headers": DATE_ADDED_HEADERS}, **errors(*AUTHENTICATED, 403, 404, 406)},
    openapi_extra=filter_parameters(_TAKES),
)
def get_manifest(
    member: MemberOrAnonymous,
    _accept: AcceptsManifest,
    _root: ApiRootDep,
    hub: HubDep,
    collection_id: CollectionRef,
    request: Request,
) -> TaxiiResponse:
    """TAXII 2.1 §5.3: one record per object version, ascending by ``date_added``.

    Filters: ``added_after``, ``limit``, ``next``, ``match[id|type|version|spec_version]``.
    """
    return serve_page(
        hub,
        member,
        request,
        collection_id,
        kind=PageKind.MANIFEST,
        takes=_TAKES,
    )
