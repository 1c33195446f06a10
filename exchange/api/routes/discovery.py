"""Server discovery and the API root (TAXII 2.1 §4.1, §4.2)."""

from fastapi import APIRouter

from exchange.api.deps import ApiRootDep, CurrentMember, HubDep
from exchange.api.negotiation import AcceptsTaxii
from exchange.api.openapi import AUTHENTICATED, errors
from exchange.api.responses import TaxiiResponse
from exchange.protocol.media import TAXII_21
from exchange.protocol.taxii import ApiRoot, Discovery

router = APIRouter(default_response_class=TaxiiResponse)


@router.get(
    "/taxii2/",
    response_model=Discovery,
    summary="Server Discovery (§4.1)",
    responses=errors(*AUTHENTICATED, 406),
)
def get_discovery(member: CurrentMember, _accept: AcceptsTaxii, hub: HubDep) -> TaxiiResponse:
    """TAXII 2.1 §4.1: the server's title and its API roots; ``default`` is among them."""
    root = f"/taxii2/{hub.settings.api_root}/"
    body = Discovery(
        title=hub.settings.title,
        description=hub.settings.description,
        contact=hub.settings.contact,
        default=root,
        api_roots=[root],
    )
    return TaxiiResponse(body.to_json_dict())


@router.get(
    "/taxii2/{api_root}/",
    response_model=ApiRoot,
    summary="Get API Root Information (§4.2)",
    responses=errors(*AUTHENTICATED, 404, 406),
)
def get_api_root(
    member: CurrentMember, _accept: AcceptsTaxii, _root: ApiRootDep, hub: HubDep
) -> TaxiiResponse:
    """TAXII 2.1 §4.2: the API root's title, versions and ``max_content_length``."""
    settings = hub.settings
    body = ApiRoot(
        title=f"{settings.title}: {settings.api_root}",
        description=(
            f"{settings.description} Pages hold at most {settings.max_page_size} objects"
            f" (a larger limit is lowered and the response says so in X-Exchange-Page-Limit);"
            f" an envelope may hold at most {settings.max_objects_per_envelope} objects."
        ),
        versions=[TAXII_21],
        max_content_length=settings.max_content_length,
    )
    return TaxiiResponse(body.to_json_dict())
