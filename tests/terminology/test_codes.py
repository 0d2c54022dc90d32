from __future__ import annotations

import pytest

from service.terminology.codes import HCPCS, ICD10CM, NDC, CodeKey, normalize_code


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        pytest.param("55513-160-01", "55513016001", id="5-3-2"),
        pytest.param("55513-0160-01", "55513016001", id="5-4-2-hyphenated"),
        pytest.param("55513016001", "55513016001", id="11-digit"),
        pytest.param("55513-0160-1", "55513016001", id="5-4-1"),
        pytest.param("5551-3160-21", "05551316021", id="4-4-2"),
        pytest.param(" 55513-160-21 ", "55513016021", id="whitespace"),
        pytest.param("5551316001", "5551316001", id="bare-10-digit-ambiguous-left-alone"),
        pytest.param("55513-16a-01", "55513-16a-01", id="not-digits-left-alone"),
    ],
)
def test_ndc_spellings(spelling: str, expected: str) -> None:
    assert normalize_code(NDC, spelling) == CodeKey(NDC, expected)


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        pytest.param(ICD10CM, "c91.00", CodeKey(ICD10CM, "C9100"), id="icd-lower-dotted"),
        pytest.param(ICD10CM, "C9100", CodeKey(ICD10CM, "C9100"), id="icd-undotted"),
        pytest.param(
            "urn:oid:2.16.840.1.113883.6.90", "C91.02", CodeKey(ICD10CM, "C9102"), id="icd-oid"
        ),
        pytest.param(
            "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
            "j9039",
            CodeKey(HCPCS, "J9039"),
            id="hcpcs-bluebutton-alias",
        ),
        pytest.param(
            "http://loinc.org", "29463-7", CodeKey("http://loinc.org", "29463-7"), id="loinc"
        ),
    ],
)
def test_other_spellings(system: str, code: str, expected: CodeKey) -> None:
    assert normalize_code(system, code) == expected
