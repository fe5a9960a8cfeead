"""Event names the gateway accepts and the pydantic schema of each one's payload.

A webhook body follows the Standard Webhooks payload structure::

    {"type": "crucible.ligands.ready", "timestamp": "2026-12-06T12:00:00Z", "data": {...}}

``type`` names the event (one of :data:`PAYLOADS`), ``data`` is validated against that
event's schema and becomes the Prefect event's payload. Each schema also names the
Prefect resource the event is about (``crucible.ligands.<name>``, ``crucible.campaign.<name>``),
which is what deployment triggers match on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from crucible.exceptions import InvalidInputError
from crucible.naming import check_slug, inside

__all__ = [
    "PAYLOADS",
    "CampaignRequested",
    "LigandsReady",
    "WebhookBody",
    "WebhookPayload",
    "payload_schema",
]


class WebhookBody(BaseModel):
    """The Standard Webhooks envelope: event type, optional timestamp, event data."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200, description="Event name.")
    timestamp: str | None = Field(default=None, description="When the sender created it.")
    data: dict[str, Any] = Field(description="The event's payload (schema per event type).")


class WebhookPayload(BaseModel):
    """Base of every event payload schema: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    event_name: ClassVar[str]

    def resource_id(self) -> str:
        """The Prefect resource id of the event (what triggers match on)."""
        raise NotImplementedError


def _slug(value: str, field: str) -> str:
    try:
        return check_slug(value, field)
    except InvalidInputError as exc:
        raise ValueError(f"{exc.problem}; {exc.fix}") from None


class LigandsReady(WebhookPayload):
    """A ligand file is ready for a molecular-design run.

    Attributes:
        name: Design name (the run's output folder).
        path: The ligand file (CSV, SMILES or SDF), relative to the gateway's data root;
            the event carries the resolved absolute path.
        smiles_column: Column holding the SMILES.
        activity_column: Column holding the activity.
        activity_units: ``p`` when the column is already -log10 molar (pIC50, pChEMBL),
            otherwise the concentration unit the values are in.
    """

    event_name: ClassVar[str] = "crucible.ligands.ready"

    name: str = Field(description="Design name (the run's output folder).")
    path: str = Field(min_length=1, description="Ligand file, relative to the data root.")
    smiles_column: str = Field(default="smiles", min_length=1, max_length=200)
    activity_column: str = Field(min_length=1, max_length=200)
    activity_units: Literal["p", "M", "mM", "uM", "nM", "pM"] = "p"

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        return _slug(value, "name")

    @field_validator("path")
    @classmethod
    def _path_under_data_root(cls, value: str, info: ValidationInfo) -> str:
        root = (info.context or {}).get("data_root")
        if root is None:
            raise ValueError("the gateway has no data root configured")
        if Path(value).is_absolute():
            raise ValueError(f"give a path relative to the data root {root}, not an absolute one")
        try:
            resolved = inside(root, value, field="path")
        except InvalidInputError as exc:
            raise ValueError(f"{exc.problem}; {exc.fix}") from None
        if not resolved.is_file():
            raise ValueError(f"no file {value!r} under the data root {root}")
        return str(resolved)

    def resource_id(self) -> str:
        """``crucible.ligands.<name>``."""
        return f"crucible.ligands.{self.name}"


def _known_problems() -> list[str]:
    from crucible.bo.problems import PROBLEMS

    return list(PROBLEMS)


class CampaignRequested(WebhookPayload):
    """A request for a small BO campaign on a built-in problem or an evaluator.

    Attributes:
        name: Campaign name; a known name resumes that campaign.
        problem: A built-in problem (``branin``, ``hartmann6``, ...).
        evaluator: A registered evaluator (:data:`crucible.plugins.EVALUATORS`); the
            problem's own evaluator when empty.
        budget: Total number of trials.
        batch_size: Trials per iteration.
    """

    event_name: ClassVar[str] = "crucible.campaign.requested"

    name: str = Field(description="Campaign name.")
    problem: str = Field(default="branin", description="Built-in problem name.")
    evaluator: str = Field(
        default="", max_length=200, description="Registered evaluator or empty."
    )
    budget: int = Field(default=12, ge=2, le=500, description="Total number of trials.")
    batch_size: int = Field(default=2, ge=1, le=64, description="Trials per iteration.")

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        return _slug(value, "name")

    @field_validator("problem")
    @classmethod
    def _problem_is_known(cls, value: str) -> str:
        known = _known_problems()
        if value not in known:
            raise ValueError(f"unknown problem {value!r}; use one of {known}")
        return value

    @field_validator("evaluator")
    @classmethod
    def _evaluator_is_registered(cls, value: str) -> str:
        if not value:
            return value
        from crucible.plugins import EVALUATORS, looks_like_import_path

        if looks_like_import_path(value) or value not in EVALUATORS:
            raise ValueError(
                f"{value[:100]!r} is not a registered evaluator (webhooks never name import "
                f"paths); use one of {EVALUATORS.names()} or leave it empty"
            )
        return value

    def resource_id(self) -> str:
        """``crucible.campaign.<name>``."""
        return f"crucible.campaign.{self.name}"


PAYLOADS: dict[str, type[WebhookPayload]] = {
    schema.event_name: schema for schema in (LigandsReady, CampaignRequested)
}


def payload_schema(event_name: str) -> type[WebhookPayload]:
    """The payload schema of ``event_name``.

    Raises:
        InvalidInputError: The event name is not in :data:`PAYLOADS`.
    """
    try:
        return PAYLOADS[event_name]
    except KeyError:
        raise InvalidInputError(
            "events", f"unknown event {event_name!r}", f"use one of {sorted(PAYLOADS)}"
        ) from None
