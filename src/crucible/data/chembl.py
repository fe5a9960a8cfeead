"""Fetch bioactivities for one target from the ChEMBL web services.

Uses ``chembl-webresource-client`` (its query sets, paging, HTTP cache and error mapping),
wrapped so that

* nothing touches the network at import time: the client is imported inside
  :func:`fetch_activities`, and the query sets are built from the client's
  ``QuerySet``/``Model`` classes directly instead of importing ``new_client`` (whose import
  downloads the SPORE schema with no timeout, from a URL fixed at first import);
* the base URL (a mirror, or a local test server), the timeout and the page size come from
  :func:`crucible.get_settings` and the query; the client's requests-cache SQLite file lives
  under ``settings.chembl_cache_path`` (not the user's home folder), and a response that is
  not complete JSON is never cached;
* every failure becomes a :class:`ChemblRequestError` (a
  :class:`~crucible.exceptions.DataSourceError`) that says what failed and whether a retry
  may help (``transient``). Retries with back-off belong to the Prefect task
  (``tasks/ligand_data.py``), so the client's own urllib3 retries are switched off. Three
  cases have their own class:

  - :class:`ChemblNotFoundError` (not retried): the target does not exist (an unknown
    ChEMBL id, a name the search does not find, or an HTTP 404); the message names it;
  - :class:`ChemblUnavailableError` (retried): timeouts, connection errors, HTTP 429 and 5xx,
    truncated or malformed responses;
  - :class:`ChemblNoActivitiesError` (not retried): the target exists but no activity record
    matches the query, or every record was dropped (no pChEMBL, flagged, no structure). This
    is an error rather than an empty result, because an empty ligand set cannot be split,
    modelled or learnt from; the message says which filters to relax.

Nothing is written until the whole fetch succeeded: :meth:`ChemblFetchResult.write` is
a separate step that writes into a temporary folder and renames it.

Example:
    >>> from crucible.data.chembl import ChemblQuery, fetch_activities  # doctest: +SKIP
    >>> result = fetch_activities(ChemblQuery(target="EGFR"))  # doctest: +SKIP
    >>> result.molecules.head()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator

from crucible.data.io import ACTIVITY_COLUMN, ID_COLUMN, SMILES_COLUMN, YEAR_COLUMN, write_table
from crucible.data.provenance import CHEMBL_ATTRIBUTION, Provenance, sha256_of
from crucible.exceptions import DataSourceError, InvalidInputError
from crucible.settings import CrucibleSettings, get_settings
from crucible.validation import strict_config

if TYPE_CHECKING:
    import pandas as pd

#: Activity fields requested from the ``activity`` endpoint (REST field names).
ACTIVITY_FIELDS = (
    "activity_id",
    "assay_chembl_id",
    "assay_description",
    "assay_type",
    "molecule_chembl_id",
    "standard_type",
    "standard_relation",
    "standard_value",
    "standard_units",
    "pchembl_value",
    "target_chembl_id",
    "target_organism",
    "document_year",
    "data_validity_comment",
)
_TARGET_FIELDS = ("target_chembl_id", "pref_name", "organism", "target_type", "target_components")
_CHEMBL_ID = re.compile(r"^CHEMBL\d+$", re.IGNORECASE)
_MOLECULE_CHUNK = 100
_SEARCH_LIMIT = 200
#: Client exceptions (by class name) after which a retry may succeed.
_TRANSIENT_HTTP = {
    "HttpTooManyRequests",
    "HttpApplicationError",
    "HttpBadGateway",
    "HttpServiceUnavailable",
    "HttpGatewayTimeout",
}

ProgressCallback = Callable[[int, int], None]


class ChemblRequestError(DataSourceError):
    """A ChEMBL request failed or returned unusable data; nothing was written.

    Attributes:
        transient: True when retrying later may succeed (timeouts, connection errors, 5xx,
            429, malformed or truncated responses).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


class ChemblUnavailableError(ChemblRequestError):
    """ChEMBL could not answer now (timeout, connection, 429/5xx, truncated response): retry."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


class ChemblNotFoundError(InvalidInputError, ChemblRequestError):
    """The target does not exist in ChEMBL (unknown id or name, HTTP 404): do not retry.

    Also an :class:`~crucible.exceptions.InvalidInputError` naming the field (``query.target``).
    """

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(field, problem, fix)
        self.transient = False


class ChemblNoActivitiesError(InvalidInputError, ChemblRequestError):
    """The target exists but the query leaves no molecule: do not retry, relax the query."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(field, problem, fix)
        self.transient = False


class ChemblQuery(BaseModel):
    """What to fetch (text fields are stripped of surrounding blanks).

    Attributes:
        target: ChEMBL target id (``CHEMBL203``) or a gene symbol / target name (``EGFR``),
            resolved with the target search; an ambiguous name is an error that lists the
            candidates.
        activity_types: ``standard_type`` values to keep.
        relation: ``standard_relation`` to keep (``"="``: exact measurements only).
        units: ``standard_units`` to keep.
        assay_types: ChEMBL assay types (B binding, F functional, A ADMET, ...).
        organism: Target organism; None accepts any.
        require_pchembl: Keep only records with a pChEMBL value.
        exclude_flagged: Drop records with a ChEMBL ``data_validity_comment``.
        page_size: Records per request (the ChEMBL API allows at most 1000).
        max_records: Stop after this many activity records (None: all).
    """

    model_config = strict_config(str_strip_whitespace=True)

    target: str = Field(min_length=1)
    activity_types: list[str] = Field(default_factory=lambda: ["IC50", "Ki", "Kd", "EC50"])
    relation: str = "="
    units: str = "nM"
    assay_types: list[str] = Field(default_factory=lambda: ["B"])
    organism: str | None = "Homo sapiens"
    require_pchembl: bool = True
    exclude_flagged: bool = True
    page_size: int = Field(default=1000, ge=1, le=1000)
    max_records: int | None = Field(default=None, ge=1)

    @field_validator("activity_types", "assay_types")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one value")
        return value


class TargetInfo(BaseModel):
    """A resolved ChEMBL target."""

    target_chembl_id: str
    pref_name: str = ""
    organism: str = ""
    target_type: str = ""
    synonyms: list[str] = Field(default_factory=list)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TargetInfo:
        """Build from a ``target`` endpoint record."""
        return cls(
            target_chembl_id=record["target_chembl_id"],
            pref_name=record.get("pref_name") or "",
            organism=record.get("organism") or "",
            target_type=record.get("target_type") or "",
            synonyms=sorted(_synonyms(record)),
        )


def _synonyms(record: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for component in record.get("target_components") or []:
        if component.get("accession"):
            names.add(component["accession"])
        for synonym in component.get("target_component_synonyms") or []:
            if synonym.get("component_synonym"):
                names.add(synonym["component_synonym"])
    return names


@dataclass
class ChemblFetchResult:
    """A completed fetch.

    Attributes:
        target: The resolved target.
        activities: One row per activity record that passed the filters (REST field names,
            numbers converted from the API's strings) plus ``canonical_smiles``.
        molecules: One row per molecule: ``molecule_id``, ``smiles``, ``pchembl_value``
            (median), ``pchembl_std``, ``n_measurements``, ``standard_types`` and ``year``
            (earliest document year, when known).
        provenance: Source, query, ChEMBL release, time and counts.
        dropped: Records dropped after download, by reason.
    """

    target: TargetInfo
    activities: pd.DataFrame
    molecules: pd.DataFrame
    provenance: Provenance
    dropped: dict[str, int] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``activities.csv``, ``molecules.csv`` and ``provenance.json``.

        The files are written into a temporary folder next to ``out_dir`` and moved into
        place at the end, so an interrupted write leaves no partial files behind.
        """
        out = Path(out_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".chembl-", dir=out.parent))
        try:
            write_table(self.activities, staging / "activities.csv")
            write_table(self.molecules, staging / "molecules.csv")
            files = {n: sha256_of(staging / n) for n in ("activities.csv", "molecules.csv")}
            self.provenance = self.provenance.model_copy(update={"files": files})
            self.provenance.save(staging / "provenance.json")
            out.mkdir(parents=True, exist_ok=True)
            paths = {}
            for name in ("activities.csv", "molecules.csv", "provenance.json"):
                paths[name.split(".")[0]] = (staging / name).replace(out / name)
            return paths
        finally:
            shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The client, configured and wrapped


def _is_complete_json(response: Any) -> bool:
    """requests-cache filter: cache only responses whose body is complete JSON."""
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True


class _Client:
    """``chembl_webresource_client`` query sets bound to one base URL and cache."""

    def __init__(self, settings: CrucibleSettings, page_size: int, cache_expire_s: int) -> None:
        from chembl_webresource_client.settings import Settings

        assert settings.chembl_cache_path is not None
        settings.chembl_cache_path.mkdir(parents=True, exist_ok=True)
        client_settings = Settings.Instance()
        self.base_url = settings.chembl_base_url.rstrip("/")
        client_settings.NEW_CLIENT_URL = self.base_url
        client_settings.NEW_CLIENT_TIMEOUT = settings.chembl_timeout_s
        client_settings.TIMEOUT = settings.chembl_timeout_s
        client_settings.CACHING = True
        # An absolute name: the client joins it to the home folder, which then has no effect.
        client_settings.CACHE_NAME = str(settings.chembl_cache_path.resolve() / "chembl_ws_client")
        client_settings.CACHE_EXPIRE = cache_expire_s
        client_settings.TOTAL_RETRIES = 0  # retries belong to the Prefect task
        client_settings.MAX_LIMIT = page_size
        self.timeout = settings.chembl_timeout_s

    def queryset(self, name: str, collection: str, searchable: bool = False) -> Any:
        """A fresh query set for one REST resource (``activity``, ``molecule``, ``target``)."""
        from chembl_webresource_client.query_set import Model, QuerySet

        queryset = QuerySet(model=Model(name, collection, ["json"], searchable))
        queryset.set_format("json")
        return queryset

    def status(self) -> dict[str, Any]:
        """The ``status`` endpoint (ChEMBL release and date)."""
        session = _guarded(self.queryset("status", "")).query.session
        response = session.get(f"{self.base_url}/status.json", timeout=self.timeout)
        if not response.ok:
            from chembl_webresource_client.http_errors import handle_http_error

            handle_http_error(response)
        payload: dict[str, Any] = response.json()
        return payload


def _guarded(queryset: Any) -> Any:
    """Make the query set's HTTP cache keep only complete JSON responses.

    ``filter``/``only``/``search`` clone the query with a new session, so call this on the
    final query set, just before iterating it.
    """
    queryset.query.session.settings.filter_fn = _is_complete_json
    return queryset


_RETRY_STATUS = re.compile(r"too many (\d{3}) error responses")


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind a client error, when there is one.

    The client raises ``HttpNotFound`` & co. for query sets, but plain session requests
    (the status endpoint) surface an error status as a ``RetryError`` ("too many 404 error
    responses") because its urllib3 retry policy lists error statuses even with 0 retries.
    """
    import requests

    if type(exc).__name__ == "HttpNotFound":
        return 404
    if isinstance(exc, requests.exceptions.RetryError):
        match = _RETRY_STATUS.search(str(exc))
        return int(match.group(1)) if match else None
    return None


def _describe(exc: BaseException) -> tuple[str, bool]:
    """A readable cause and whether retrying may help."""
    import requests

    name = type(exc).__name__
    status = _http_status(exc)
    if status is not None and (status == 429 or status >= 500):
        return f"the server answered HTTP {status}", True
    if status is not None:
        return f"the server answered HTTP {status}", False
    if isinstance(exc, requests.exceptions.JSONDecodeError | json.JSONDecodeError):
        return f"the response was not complete JSON (truncated or malformed: {exc})", True
    if isinstance(exc, requests.exceptions.Timeout):
        return f"the request timed out ({exc})", True
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.RetryError):
        return f"could not reach the server ({exc})", True
    if name in _TRANSIENT_HTTP:
        return f"the server answered with an error ({name}: {exc})", True
    if name.startswith("Http") or name == "BaseHttpException":
        return f"the server rejected the request ({name}: {exc})", False
    if isinstance(exc, KeyError | TypeError):
        return f"the response does not have ChEMBL's shape (missing {exc})", True
    return f"{name}: {exc}", False


@contextmanager
def _translate_errors(what: str, base_url: str, target: str | None = None) -> Iterator[None]:
    """Turn client, requests and parsing errors into :class:`ChemblRequestError` subclasses.

    Args:
        what: The step, for the message (``"target lookup"``, ``"activity download"``).
        base_url: The ChEMBL base URL, for the message.
        target: The queried target; an HTTP 404 while it is known means "no such target".
    """
    from chembl_webresource_client.http_errors import BaseHttpException
    from requests.exceptions import RequestException

    try:
        yield
    except (RequestException, BaseHttpException, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        if _http_status(exc) == 404 and target is not None:
            raise ChemblNotFoundError(
                "query.target",
                f"ChEMBL at {base_url} answered 404 Not Found to the {what} of target "
                f"{target!r}: it has no such target. Nothing was written",
                "check the target id or name (e.g. CHEMBL203 or EGFR); retrying will not help",
            ) from exc
        cause, transient = _describe(exc)
        message = f"ChEMBL {what} at {base_url} failed: {cause}. Nothing was written"
        if transient:
            raise ChemblUnavailableError(f"{message}; retry later.") from exc
        raise ChemblRequestError(
            f"{message}; check the query and CRUCIBLE_CHEMBL_BASE_URL.", transient=False
        ) from exc


# --------------------------------------------------------------------------------------------
# Target resolution


def _matches_name(record: dict[str, Any], name: str) -> bool:
    wanted = name.casefold()
    names = {record.get("pref_name") or "", *_synonyms(record)}
    return any(candidate.casefold() == wanted for candidate in names)


def _resolve(client: _Client, target: str, organism: str | None) -> TargetInfo:
    if _CHEMBL_ID.match(target):
        chembl_id = target.upper()
        records = list(
            _guarded(
                client.queryset("target", "targets")
                .filter(target_chembl_id=chembl_id)
                .only(*_TARGET_FIELDS)
            )
        )
        if not records:
            raise ChemblNotFoundError(
                "query.target",
                f"ChEMBL has no target {chembl_id} (not found at {client.base_url})",
                "check the target id (e.g. CHEMBL203) or give a gene symbol; retrying will "
                "not help",
            )
        return TargetInfo.from_record(records[0])
    hits = []
    search = _guarded(client.queryset("target", "targets", searchable=True).search(target))
    for record in search:
        hits.append(record)
        if len(hits) >= _SEARCH_LIMIT:
            break
    return _pick_target(target, organism, hits)


def _pick_target(target: str, organism: str | None, hits: list[dict[str, Any]]) -> TargetInfo:
    """Choose the one target that a gene symbol or name denotes, or explain why not."""
    exact = [h for h in hits if _matches_name(h, target)]
    if organism:
        exact = [h for h in exact if (h.get("organism") or "").casefold() == organism.casefold()]
    single = [h for h in exact if h.get("target_type") == "SINGLE PROTEIN"] or exact
    if len(single) == 1:
        return TargetInfo.from_record(single[0])
    listing = "; ".join(
        f"{h['target_chembl_id']} ({h.get('pref_name')}, {h.get('organism')}, "
        f"{h.get('target_type')})"
        for h in (single or hits)[:8]
    )
    where = f" in {organism}" if organism else ""
    if not single:
        found = f"the search found: {listing}" if listing else "the search found nothing"
        raise ChemblNotFoundError(
            "query.target",
            f"no target{where} has the name or gene symbol {target!r} ({found})",
            "give the ChEMBL target id (e.g. CHEMBL203) or another organism",
        )
    raise InvalidInputError(
        "query.target",
        f"{target!r} is ambiguous{where}: {len(single)} targets match ({listing})",
        "give one of these ChEMBL target ids instead of the name",
    )


def resolve_target(
    target: str, organism: str | None = "Homo sapiens", settings: CrucibleSettings | None = None
) -> TargetInfo:
    """Resolve a ChEMBL target id, gene symbol or name to one target.

    Raises:
        ChemblNotFoundError: Nothing matches (an :class:`InvalidInputError`; no retry).
        InvalidInputError: The name is ambiguous (the message lists the candidates).
        ChemblUnavailableError: The service cannot answer now (retry).
        ChemblRequestError: Any other failed request.
    """
    settings = settings or get_settings()
    client = _Client(settings, page_size=1000, cache_expire_s=86400)
    with _translate_errors("target lookup", client.base_url, target):
        return _resolve(client, target, organism)


# --------------------------------------------------------------------------------------------
# Activities, molecules, aggregation


def _activity_filters(query: ChemblQuery, target_id: str) -> dict[str, Any]:
    """REST filters of the activity query.

    ``__in`` filters are passed as lists (sent as JSON arrays, the form TeachOpenCADD uses
    against the live API); the client URL-quotes plain strings.
    """
    filters: dict[str, Any] = {
        "target_chembl_id": target_id,
        "standard_type__in": list(query.activity_types),
        "standard_relation": query.relation,
        "standard_units": query.units,
        "assay_type__in": list(query.assay_types),
    }
    if query.require_pchembl:
        filters["pchembl_value__isnull"] = False
    if query.organism:
        filters["target_organism__iexact"] = query.organism
    return filters


def _download_activities(
    client: _Client, query: ChemblQuery, target_id: str, progress: ProgressCallback | None
) -> list[dict[str, Any]]:
    queryset = _guarded(
        client.queryset("activity", "activities")
        .filter(**_activity_filters(query, target_id))
        .only(*ACTIVITY_FIELDS)
    )
    records: list[dict[str, Any]] = []
    for record in queryset:
        records.append({name: record.get(name) for name in ACTIVITY_FIELDS})
        if progress is not None and len(records) % query.page_size == 0:
            progress(len(records), int(queryset.query.api_total_count or len(records)))
        if query.max_records is not None and len(records) >= query.max_records:
            break
    if progress is not None:
        progress(len(records), len(records))
    return records


def _download_smiles(client: _Client, molecule_ids: list[str]) -> dict[str, str | None]:
    """Canonical SMILES of each molecule (None where ChEMBL has no structure)."""
    smiles: dict[str, str | None] = {}
    for start in range(0, len(molecule_ids), _MOLECULE_CHUNK):
        chunk = molecule_ids[start : start + _MOLECULE_CHUNK]
        queryset = _guarded(
            client.queryset("molecule", "molecules")
            .filter(molecule_chembl_id__in=list(chunk))
            .only("molecule_chembl_id", "molecule_structures")
        )
        for record in queryset:
            structures = record.get("molecule_structures") or {}
            smiles[record["molecule_chembl_id"]] = structures.get("canonical_smiles")
    return smiles


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def activities_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Activity records (REST field names, decimals as strings) as a typed table."""
    import pandas as pd

    frame = pd.DataFrame.from_records(records, columns=list(ACTIVITY_FIELDS))
    for column in ("standard_value", "pchembl_value", "document_year"):
        frame[column] = [_to_float(v) for v in frame[column]]
    return frame


def aggregate_per_molecule(activities: pd.DataFrame) -> pd.DataFrame:
    """One row per molecule: median pChEMBL, its spread and the number of measurements.

    Args:
        activities: Output of :func:`activities_table` with a ``canonical_smiles`` column;
            rows without SMILES or pChEMBL must already be removed.

    Returns:
        Canonical table (``molecule_id``, ``smiles``, ``pchembl_value``) plus
        ``pchembl_std``, ``n_measurements``, ``standard_types`` and ``year``, sorted by
        decreasing pChEMBL.
    """
    import pandas as pd

    groups = activities.groupby("molecule_chembl_id", sort=False)
    out = pd.DataFrame(
        {
            SMILES_COLUMN: groups["canonical_smiles"].first(),
            ACTIVITY_COLUMN: groups["pchembl_value"].median(),
            "pchembl_std": groups["pchembl_value"].std(ddof=0),
            "n_measurements": groups["pchembl_value"].size(),
            "standard_types": groups["standard_type"].agg(lambda s: ";".join(sorted(set(s)))),
            YEAR_COLUMN: groups["document_year"].min(),
        }
    )
    out.index.name = ID_COLUMN
    out = out.reset_index().sort_values(ACTIVITY_COLUMN, ascending=False, kind="stable")
    return out.reset_index(drop=True)


def _clean(activities: pd.DataFrame, query: ChemblQuery) -> tuple[pd.DataFrame, dict[str, int]]:
    dropped: dict[str, int] = {}
    steps = [
        ("no pChEMBL value", activities["pchembl_value"].isna()),
        ("flagged by data_validity_comment", activities["data_validity_comment"].notna()),
        ("molecule has no structure in ChEMBL", activities["canonical_smiles"].isna()),
    ]
    keep = activities["molecule_chembl_id"].notna()
    for reason, mask in steps:
        if reason.startswith("flagged") and not query.exclude_flagged:
            continue
        if reason.startswith("no pChEMBL") and not query.require_pchembl:
            continue
        newly = keep & mask
        if int(newly.sum()):
            dropped[reason] = int(newly.sum())
        keep &= ~mask
    return activities.loc[keep].reset_index(drop=True), dropped


def _no_activities(query: ChemblQuery, target: TargetInfo, why: str) -> None:
    """Raise :class:`ChemblNoActivitiesError` naming the target and the filters in force."""
    filters = (
        f"activity_types={query.activity_types}, relation={query.relation!r}, "
        f"units={query.units!r}, assay_types={query.assay_types}, organism={query.organism!r}, "
        f"require_pchembl={query.require_pchembl}, exclude_flagged={query.exclude_flagged}"
    )
    raise ChemblNoActivitiesError(
        "query",
        f"target {target.target_chembl_id} ({target.pref_name}, {target.organism}) has no "
        f"usable activities: {why} [{filters}]. Nothing was written",
        "relax the filters (more activity_types or assay_types, organism=None, "
        "require_pchembl=False) or choose another target; retrying will not help",
    )


def fetch_activities(
    query: ChemblQuery,
    settings: CrucibleSettings | None = None,
    progress: ProgressCallback | None = None,
    cache_expire_s: int = 86400,
) -> ChemblFetchResult:
    """Resolve the target, download its activities and structures, aggregate per molecule.

    Args:
        query: What to fetch.
        settings: Crucible settings (base URL, timeout, cache folder); the environment's
            when None.
        progress: Called as ``progress(records_done, records_total)`` after each page.
        cache_expire_s: Lifetime of the client's HTTP cache entries.

    Returns:
        The activities, the per-molecule table and their provenance (not yet written).

    Raises:
        ChemblNotFoundError: The target does not exist (no retry).
        InvalidInputError: The target name is ambiguous (the message lists candidates).
        ChemblNoActivitiesError: The target has no activity that passes the query (no retry).
        ChemblUnavailableError: A timeout, connection error, 429/5xx or truncated response
            (retry).
        ChemblRequestError: Any other failed request (no retry).
    """
    settings = settings or get_settings()
    client = _Client(settings, query.page_size, cache_expire_s)
    started = time.time()
    with _translate_errors("status request", client.base_url):
        status = client.status()
    with _translate_errors("target lookup", client.base_url, query.target):
        target = _resolve(client, query.target, query.organism)
    with _translate_errors("activity download", client.base_url, query.target):
        records = _download_activities(client, query, target.target_chembl_id, progress)
    if not records:
        _no_activities(query, target, "no activity record matches the query")
    activities = activities_table(records)
    molecule_ids = sorted(set(activities["molecule_chembl_id"].dropna()))
    with _translate_errors("molecule download", client.base_url, query.target):
        smiles = _download_smiles(client, molecule_ids)
    activities["canonical_smiles"] = activities["molecule_chembl_id"].map(smiles)
    kept, dropped = _clean(activities, query)
    if kept.empty:
        _no_activities(
            query, target, f"all {len(activities)} activity records were dropped ({dropped})"
        )
    molecules = aggregate_per_molecule(kept)
    provenance = Provenance(
        source="chembl-api",
        description=f"{target.target_chembl_id} {target.pref_name} ({target.organism})",
        query={**query.model_dump(), "target_chembl_id": target.target_chembl_id},
        chembl_release=status.get("chembl_db_version"),
        base_url=client.base_url,
        n_records=len(activities),
        n_molecules=len(molecules),
        attribution=CHEMBL_ATTRIBUTION,
    ).with_step(
        "fetch",
        seconds=round(time.time() - started, 3),
        chembl_release_date=status.get("chembl_release_date"),
        dropped=dropped,
    )
    return ChemblFetchResult(target, activities, molecules, provenance, dropped)
