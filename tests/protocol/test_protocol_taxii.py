"""TAXII 2.1 wire models (TAXII 2.1 §3.6–§5)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from exchange.protocol.media import STIX_21, TAXII_21
from exchange.protocol.taxii import (
    ApiRoot,
    Collection,
    Collections,
    Discovery,
    Envelope,
    Manifest,
    ManifestRecord,
    Status,
    StatusDetails,
    TaxiiError,
    Versions,
)

STATUS_ID = "2d086da7-4bdc-4f91-900e-d77486753710"
IND = "indicator--252c7c11-daf2-42bd-843b-be65edca9f61"
T = "2016-11-02T12:34:34.123456Z"


class TestError:
    def test_title_is_required(self) -> None:
        with pytest.raises(ValidationError, match="title"):
            TaxiiError.model_validate({"http_status": "400"})

    def test_absent_optional_properties_are_omitted(self) -> None:
        error = TaxiiError(title="Bad Request", http_status="400")
        assert error.to_json_dict() == {"title": "Bad Request", "http_status": "400"}

    def test_every_property(self) -> None:
        body = {
            "title": "Error condition XYZ",
            "description": "This error is caused when the application tries to access data...",
            "error_id": "1234",
            "error_code": "581234",
            "http_status": "409",
            "external_details": "http://example.com/ticketnumber1/errorid-1234",
            "details": {"somekey1": "somevalue", "somekey2": "some other value"},
        }
        assert TaxiiError.model_validate(body).to_json_dict() == body

    def test_frozen(self) -> None:
        error = TaxiiError(title="x")
        with pytest.raises(ValidationError, match="frozen"):
            error.title = "y"  # type: ignore[misc]


class TestDiscoveryAndApiRoot:
    def test_discovery(self) -> None:
        body = {
            "title": "Some TAXII Server",
            "description": "This TAXII Server contains a listing of",
            "contact": "string containing contact information",
            "default": "https://example.com/api2/",
            "api_roots": ["https://example.com/api1/", "https://example.com/api2/"],
        }
        assert Discovery.model_validate(body).to_json_dict() == body
        assert Discovery(title="t").to_json_dict() == {"title": "t"}
        with pytest.raises(ValidationError, match="title"):
            Discovery.model_validate({})

    def test_api_root(self) -> None:
        root = ApiRoot(title="Root", versions=[TAXII_21], max_content_length=104857600)
        assert root.to_json_dict() == {
            "title": "Root",
            "versions": [TAXII_21],
            "max_content_length": 104857600,
        }

    @pytest.mark.parametrize("length", [0, -1])
    def test_max_content_length_is_positive(self, length: int) -> None:
        with pytest.raises(ValidationError, match="greater than 0"):
            ApiRoot(title="Root", versions=[TAXII_21], max_content_length=length)

    def test_versions_is_required(self) -> None:
        with pytest.raises(ValidationError, match="versions"):
            ApiRoot.model_validate({"title": "Root", "max_content_length": 1})


class TestStatus:
    def _status(self, **extra: object) -> dict[str, object]:
        body: dict[str, object] = {
            "id": STATUS_ID,
            "status": "complete",
            "request_timestamp": T,
            "total_count": 2,
            "success_count": 1,
            "successes": [{"id": IND, "version": T}],
            "failure_count": 1,
            "failures": [{"id": IND, "version": T, "message": "Unable to process object"}],
            "pending_count": 0,
        }
        body.update(extra)
        return body

    def test_round_trip(self) -> None:
        body = self._status()
        status = Status.model_validate(body)
        assert status.to_json_dict() == body
        assert isinstance(status.successes[0], StatusDetails)  # type: ignore[index]

    def test_pending(self) -> None:
        body = self._status(status="pending", pending_count=1, pendings=[{"id": IND, "version": T}])
        assert Status.model_validate(body).status == "pending"

    def test_status_values(self) -> None:
        with pytest.raises(ValidationError, match="'complete' or 'pending'"):
            Status.model_validate(self._status(status="done"))

    @pytest.mark.parametrize(
        "name", ["total_count", "success_count", "failure_count", "pending_count"]
    )
    def test_counts_are_required_and_not_negative(self, name: str) -> None:
        body = self._status()
        del body[name]
        with pytest.raises(ValidationError, match=name):
            Status.model_validate(body)
        with pytest.raises(ValidationError, match="greater than or equal to 0"):
            Status.model_validate(self._status(**{name: -1}))

    def test_status_details_need_id_and_version(self) -> None:
        with pytest.raises(ValidationError, match="version"):
            StatusDetails.model_validate({"id": IND})
        assert StatusDetails(id=IND, version=T).to_json_dict() == {"id": IND, "version": T}


class TestCollections:
    def test_collection(self) -> None:
        body = {
            "id": "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
            "title": "High Value Indicator Collection",
            "description": "This data collection contains high value IOCs",
            "alias": "high-value",
            "can_read": True,
            "can_write": False,
            "media_types": [STIX_21],
        }
        assert Collection.model_validate(body).to_json_dict() == body

    @pytest.mark.parametrize("name", ["id", "title", "can_read", "can_write"])
    def test_required(self, name: str) -> None:
        body = {"id": "x", "title": "t", "can_read": True, "can_write": True}
        del body[name]
        with pytest.raises(ValidationError, match=name):
            Collection.model_validate(body)

    def test_empty_collections_omit_the_key(self) -> None:
        assert Collections().to_json_dict() == {}
        one = Collection(id="x", title="t", can_read=True, can_write=False)
        assert Collections(collections=[one]).to_json_dict() == {
            "collections": [{"id": "x", "title": "t", "can_read": True, "can_write": False}]
        }


class TestPages:
    def test_manifest(self) -> None:
        record = {"id": IND, "date_added": T, "version": T, "media_type": STIX_21}
        body = {"more": True, "next": "abc", "objects": [record]}
        manifest = Manifest.model_validate(body)
        assert manifest.to_json_dict() == body
        assert isinstance(manifest.objects[0], ManifestRecord)  # type: ignore[index]
        assert Manifest().to_json_dict() == {}

    def test_manifest_record_needs_date_added_and_version(self) -> None:
        with pytest.raises(ValidationError, match="date_added"):
            ManifestRecord.model_validate({"id": IND, "version": T})
        with pytest.raises(ValidationError, match="version"):
            ManifestRecord.model_validate({"id": IND, "date_added": T})

    def test_envelope(self) -> None:
        body = {"more": False, "objects": [{"type": "indicator", "id": IND}]}
        assert Envelope.model_validate(body).to_json_dict() == body
        assert Envelope(more=False).to_json_dict() == {"more": False}

    def test_versions(self) -> None:
        assert Versions(more=False, versions=[T]).to_json_dict() == {"more": False, "versions": [T]}
        assert Versions(more=False).to_json_dict() == {"more": False}

    def test_unknown_properties_are_kept(self) -> None:
        parsed = Envelope.model_validate({"objects": [], "x_extra": 1})
        assert parsed.to_json_dict() == {"objects": [], "x_extra": 1}
