"""Pictures as feeds name them, mapped onto native `images` entries (not yet validated):
ninjs associations, RSS enclosures and media:content, Atom enclosure links."""

from __future__ import annotations

from typing import Any

from services.ingest.sanitize import plain_text

PICTURE_MEDIUMS = {"image", "picture", "photo", "graphic"}


def _listed(value: Any) -> list[Any]:
    """A ninjs 2.x list, or the values of a 1.x name -> object map."""
    if isinstance(value, dict):
        return list(value.values())
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _is_picture(kind: Any, medium: Any = None) -> bool:
    kind, medium = str(kind or "").lower(), str(medium or "").lower()
    return kind.startswith("image/") or medium in PICTURE_MEDIUMS or (not kind and not medium)


# --- ninjs ---------------------------------------------------------------------------------


def ninjs_images(associations: Any) -> list[dict[str, Any]]:
    """Each association of type picture (a list in 2.x, a name -> object map in 1.x), with
    its largest rendition; one without a rendition that has an href is skipped."""
    images = []
    for entry in _listed(associations):
        if not isinstance(entry, dict) or str(entry.get("type", "picture")) != "picture":
            continue
        href = _best_rendition(entry.get("renditions"))
        if href is not None:
            images.append({"href": href, **_ninjs_text(entry)})
    return images


def _best_rendition(renditions: Any) -> Any:
    candidates = [
        r
        for r in _listed(renditions)
        if isinstance(r, dict) and r.get("href") and _is_picture(r.get("contenttype"))
    ]
    if not candidates:
        return None
    best = max(candidates, key=lambda r: _int(r.get("width")) * _int(r.get("height")))
    return best["href"]


def _texts(entries: Any) -> dict[str, str]:
    """role -> text of ninjs 2.x headlines / descriptions (the first without a role as "")."""
    found: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("value"), str):
            value = entry["value"]
            text = plain_text(value) if "html" in str(entry.get("contenttype", "")) else value
            found.setdefault(str(entry.get("role") or ""), text.strip())
    return found


def _ninjs_text(entry: dict[str, Any]) -> dict[str, str]:
    """Caption, alt and credit: alt from the description (an `alt`/`alttext` role first),
    the caption from the `caption` description, else the headline."""
    descriptions = _texts(entry.get("descriptions"))
    headlines = _texts(entry.get("headlines"))
    described = str(entry.get("description_text") or "") or next(iter(descriptions.values()), "")
    headline = str(entry.get("headline") or "") or next(iter(headlines.values()), "")
    alt = descriptions.get("alt") or descriptions.get("alttext") or described
    caption = descriptions.get("caption") or headline or described
    by = str(entry.get("by") or entry.get("byline") or "")
    holder = str(entry.get("copyrightholder") or "")
    credit = " / ".join(dict.fromkeys(t for t in (by.strip(), holder.strip()) if t))
    return {"caption": caption[:1000], "alt": alt[:1000], "credit": credit[:200]}


# --- RSS 2.0 and Atom -----------------------------------------------------------------------


def feed_images(entry: Any) -> list[dict[str, Any]]:
    """Picture enclosures (RSS `enclosure`, Atom rel="enclosure") and `media:content`, each
    URL once; audio and video are left alone. The item's media:credit credits them all."""
    credit = next((str(c.get("content", "")) for c in entry.get("media_credit", [])), "")
    images: dict[str, dict[str, Any]] = {}
    for enclosure in entry.get("enclosures", []):
        if enclosure.get("href") and _is_picture(enclosure.get("type")):
            caption = plain_text(str(enclosure.get("title", "")))
            images.setdefault(enclosure["href"], {"href": enclosure["href"], "caption": caption})
    for content in entry.get("media_content", []):
        if content.get("url") and _is_picture(content.get("type"), content.get("medium")):
            images.setdefault(content["url"], {"href": content["url"], "caption": ""})
    return [image | {"credit": credit.strip()[:200]} for image in images.values()]
