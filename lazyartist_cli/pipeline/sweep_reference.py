"""What a sweep file's ``[reference]`` holds (published numbers it is compared with) and how points are named and
matched in tables (split from ``sweep_file.py``)."""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from .tuning import same_value


REFERENCE_METRICS = ("val", "test_easy", "test_hard", "unbiased", "worst_group", "bias_conflicting", "aligned",
                     # the same scores of the final epoch's model (a paper's code that keeps the last model)
                     "last_test_easy", "last_test_hard", "last_unbiased", "last_worst_group", "last_bias_conflicting",
                     "last_aligned")


class ReferencePoint(BaseModel):
    """One published number: the sweep points it is compared with (every point whose values match) and the value."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    match: dict[str, Any] = Field(..., min_length=1, description="keys and values of the points this number is for")
    value: float = Field(..., ge=0, le=100, description="the published mean, in percent")
    std: Optional[float] = Field(None, ge=0, le=100, description="the published std, in percent (if given)")
    source: Optional[str] = Field(None, min_length=1, description="where this number was read (default: the table's)")
    metric: Optional[Literal[REFERENCE_METRICS]] = Field(  # type: ignore[valid-type]
        None, description="the column this number is compared with (default: the table's)")


class Target(BaseModel):
    """A published number of a method the sweep does not run (e.g. the best published bias-unaware method): the tuned
    sweep's table shows it and the gap of the best bias-unaware method under the sweep's rule to it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(..., min_length=1, description="the method, as the table names it")
    source: str = Field(..., min_length=1, description="where the number was read")
    note: str = Field("", description="how it was obtained (e.g. tuned with bias labels)")
    match: dict[str, Any] = Field(..., min_length=1, description="keys and values of the points it is for (not the strategy)")
    value: float = Field(..., ge=0, le=100, description="the published mean, in percent")


class Reference(BaseModel):
    """Published numbers the sweep reproduces: a citation (``source``), never a run and never used to select."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    source: str = Field(..., min_length=1, description="where the numbers were read")
    metric: Literal[REFERENCE_METRICS] = "unbiased"  # type: ignore[valid-type]
    tolerance: float = Field(3.0, gt=0, le=100, description="percentage points within which a point agrees")
    points: list[ReferencePoint] = Field(..., min_length=1)
    targets: list[Target] = Field(default_factory=list, description="published numbers of methods the sweep does not run")


def value_text(value: Any) -> str:
    """A point's value as the text ``[labels]`` names it by: JSON for a table or list, else ``str``."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def point_label(values: dict[str, Any], labels: Optional[dict[str, dict[str, str]]] = None) -> str:
    """A point's name in tables: with ``labels``, the labels of its values of those keys (``key=value`` for a value
    without one); without, every ``key=value`` (None: not a key of that point, left out)."""
    if labels:
        parts = [names.get(value_text(values[k]), f"{k}={values[k]}") for k, names in labels.items()
                 if values.get(k) is not None]
        return ", ".join(parts) or "all"
    return ", ".join(f"{k}={v}" for k, v in values.items() if v is not None) or "all"


def matches(values: dict[str, Any], match: dict[str, Any]) -> bool:
    """A point's values match a reference point's ``match``: every key given, the same value."""
    return all(k in values and same_value(values[k], v) for k, v in match.items())
