"""The TAXII response class: JSON bodies under the TAXII 2.1 media type."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from exchange.protocol.media import TAXII_21

__all__ = ["JsonResponse", "TaxiiResponse"]


class TaxiiResponse(JSONResponse):
    """A JSON response with ``Content-Type: application/taxii+json;version=2.1``.

    A `JSONResponse`, so that FastAPI documents a route's ``response_model`` as its body.
    """

    media_type = TAXII_21

    def render(self, content: Any) -> bytes:
        """Serialize ``content`` (bytes pass through untouched)."""
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)


class JsonResponse(TaxiiResponse):
    """A JSON response of the exchange's own API (``/exchange/v1/``)."""

    media_type = "application/json"
