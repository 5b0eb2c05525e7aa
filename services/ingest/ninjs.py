"""IPTC ninjs (2.x, and the 1.x spellings) mapped onto the native article."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.ingest.picture_sources import ninjs_images
from services.ingest.sanitize import paragraphs, plain_text

# pubstatus canceled takes the story down for good; withheld holds this version's text hidden
# until a later `usable` version releases it (both stop showing the page).
WITHDRAWN = {"canceled"}
HELD = {"withheld"}


class NinjsText(BaseModel):
    """One entry of headlines / bodies / descriptions."""

    model_config = ConfigDict(extra="allow")
    role: str | None = None
    contenttype: str = "text/plain"
    value: str = ""


class NinjsName(BaseModel):
    """One entry of subjects / infosources (2.x) or subject (1.x)."""

    model_config = ConfigDict(extra="allow")
    name: str = ""


class NinjsDocument(BaseModel):
    """The ninjs fields Pressroom reads; every other field is accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    uri: str = Field(min_length=1, max_length=200)
    version: str | int | None = None
    pubstatus: str = "usable"
    firstcreated: AwareDatetime | None = None
    contentcreated: AwareDatetime | None = None
    versioncreated: AwareDatetime | None = None
    embargoed: AwareDatetime | None = None
    headlines: list[NinjsText] = Field(default_factory=list)
    bodies: list[NinjsText] = Field(default_factory=list)
    descriptions: list[NinjsText] = Field(default_factory=list)
    subjects: list[NinjsName] = Field(default_factory=list)
    infosources: list[NinjsName] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    by: str | None = None
    copyrightholder: str | None = None
    # ninjs 1.x spellings
    headline: str | None = None
    body_html: str | None = None
    body_text: str | None = None
    description_text: str | None = None
    description_html: str | None = None
    byline: str | None = None
    subject: list[NinjsName] = Field(default_factory=list)
    associations: Any = Field(default=None, description="pictures: a list (2.x) or map (1.x)")

    @property
    def withdrawn(self) -> bool:
        return self.pubstatus.lower() in WITHDRAWN

    @property
    def held(self) -> bool:
        return self.pubstatus.lower() in HELD


# When the native model rejects a mapped field, name the ninjs field the feed sent.
NINJS_FIELD = {
    "external_id": "uri",
    "title": "headlines",
    "body_html": "bodies",
    "summary": "descriptions",
    "author": "by",
    "source": "infosources",
    "tags": "subjects",
    "published_at": "firstcreated",
    "embargoed": "embargoed",
    "updated_at": "versioncreated",
    "version": "version",
    "images": "associations",
}


def _pick(texts: list[NinjsText], role: str) -> NinjsText | None:
    return next((t for t in texts if t.role == role), texts[0] if texts else None)


def _as_text(entry: NinjsText | None) -> str | None:
    if entry is None:
        return None
    return plain_text(entry.value) if "html" in entry.contenttype else entry.value


def _body(doc: NinjsDocument) -> str:
    html = [b for b in doc.bodies if "html" in b.contenttype]
    if html:
        return (_pick(html, "main") or html[0]).value
    if doc.bodies:
        return paragraphs((_pick(doc.bodies, "main") or doc.bodies[0]).value)
    return doc.body_html or paragraphs(doc.body_text or "")


def _version(raw: str | int | None) -> int | str | None:
    """ninjs versions are strings; Pressroom's are integers. Anything but ASCII digits
    ("²" and "٣" pass str.isdigit, not int) is left for the native model to reject, naming
    `version`."""
    if raw is None or isinstance(raw, int):
        return raw
    digits = raw.strip()
    return int(digits) if digits.isascii() and digits.isdigit() else raw


def native_fields(doc: NinjsDocument) -> dict[str, Any]:
    """The native article fields this ninjs document means (not yet validated)."""
    headline = _as_text(_pick(doc.headlines, "main"))
    summary = _as_text(_pick(doc.descriptions, "summary"))
    if summary is None:
        summary = doc.description_text or plain_text(doc.description_html or "")
    source = doc.infosources[0].name if doc.infosources else doc.copyrightholder
    tags = [s.name for s in [*doc.subjects, *doc.subject] if s.name] + doc.keywords
    published = doc.firstcreated or doc.contentcreated or doc.versioncreated
    fields: dict[str, Any] = {
        "external_id": doc.uri,
        "title": headline if headline is not None else (doc.headline or ""),
        "body_html": _body(doc),
        "summary": summary[:2000],
        "author": doc.by or doc.byline or "",
        "source": source or "",
        "tags": list(dict.fromkeys(tags)),
        "published_at": published,
        "embargoed": doc.embargoed,
        "updated_at": doc.versioncreated,
        "version": _version(doc.version),
        "images": ninjs_images(doc.associations),
    }
    return {k: v for k, v in fields.items() if v is not None}
