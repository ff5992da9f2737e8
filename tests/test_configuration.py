"""docs/configuration.md is the settings the code reads: every variable, its default, and
each one really read into its setting."""
from __future__ import annotations

import dataclasses
import re

import pytest

from alpr.config import PROJECT_ROOT, Settings
from alpr.search import PLANS, SearchPlan

REFERENCE = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
ROWS = dict(re.findall(r"^\| `(ALPR_[A-Z0-9_]+)` \| ([^|]+) \|", REFERENCE, re.M))
READ_BY_CODE = set(re.findall(r"ALPR_[A-Z0-9_]+", (PROJECT_ROOT / "alpr" / "config.py").read_text()))
# Values unlike every default, by the setting's type.
SAMPLES = {str: "x-test", bool: "0", int: "123", float: "0.123", SearchPlan: "fast"}
# Variables that take one of a few words.
WORD_SAMPLES = {"ALPR_ANONYMIZED_COPY": "pixelate"}


def field_of(variable: str) -> dataclasses.Field:
    """ALPR_MAX_UPLOAD_MB → Settings.max_upload_mb: the names follow one rule."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    return fields[variable.removeprefix("ALPR_").lower()]


def shown(value) -> str:
    """A default as the reference writes it."""
    if value is None:
        return "unset"
    if isinstance(value, SearchPlan):
        return f"`{value.name}`"
    if isinstance(value, bool):
        return f"`{int(value)}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.startswith(str(PROJECT_ROOT) + "/"):
        value = value.removeprefix(str(PROJECT_ROOT) + "/")
    return f"`{value}`"


def test_the_reference_lists_exactly_the_variables_the_code_reads():
    assert READ_BY_CODE and set(ROWS) == READ_BY_CODE


@pytest.mark.parametrize("variable", sorted(READ_BY_CODE))
def test_each_default_is_the_codes(variable):
    assert ROWS[variable].strip() == shown(getattr(Settings(), field_of(variable).name))


@pytest.mark.parametrize("variable", sorted(READ_BY_CODE))
def test_each_variable_is_read_into_its_setting(variable):
    name = field_of(variable).name
    default = getattr(Settings(), name)
    kind = type(default) if default is not None else str
    changed = getattr(Settings.from_env({variable: WORD_SAMPLES.get(variable, SAMPLES[kind])}), name)
    assert changed != default


def test_search_plans_cost_more_from_fast_to_thorough():
    # Every look and read of a cheaper plan is in the dearer one.
    order = [PLANS[n] for n in ("fast", "balanced", "thorough")]
    for cheap, dear in zip(order, order[1:]):
        assert cheap.retry_imgsz <= dear.retry_imgsz and cheap.tiles <= dear.tiles
        for part in ("detector_turns", "detector_slants", "crop_margins", "turn_angles", "slant_angles"):
            assert set(getattr(cheap, part)) <= set(getattr(dear, part)), part
    assert Settings.from_env({"ALPR_SEARCH": "Thorough"}).search is PLANS["thorough"]
    with pytest.raises(ValueError, match="fast, balanced, thorough"):
        Settings.from_env({"ALPR_SEARCH": "hard"})


def test_the_anonymized_copy_takes_a_hiding_mode_or_off():
    assert Settings.from_env({"ALPR_ANONYMIZED_COPY": "Fill"}).anonymized_copy == "fill"
    assert Settings.from_env({"ALPR_ANONYMIZED_COPY": "off"}).anonymized_copy is None
    with pytest.raises(ValueError, match="blur"):
        Settings.from_env({"ALPR_ANONYMIZED_COPY": "smudge"})
