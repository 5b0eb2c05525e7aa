"""Ordering: the newest version wins whatever the order requests arrive in, and a kill is a
version too (it beats a publish of the same version; only a strictly newer one undoes it).
Driven through real ingest over HTTP, on real Valkey and SeaweedFS."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from shared.ids import article_id
from shared.models import article_key, version_key
from tests.ingest.conftest import SAMPLES, Ingest, article

NINJS = "application/ninjs+json"
VERSIONS = st.none() | st.integers(min_value=1, max_value=6)
TITLES = st.sampled_from(["初稿", "更正", "终稿"])


@dataclass(frozen=True)
class Visible:
    """What a reader must see: the stored version, whether it is withdrawn, and its text."""

    version: int
    killed: bool
    content: tuple[str, str]  # (format, title): what the feed's fingerprint covers


@dataclass(frozen=True)
class Sent:
    """A request as the feed sent it, to replay later."""

    kind: str  # "native" | "ninjs" | "delete" | "canceled" | "withheld"
    version: int | None
    title: str


class KillsStayKilled(RuleBasedStateMachine):
    """Every order of publish, update, withdraw (DELETE, ninjs canceled), hold (ninjs
    withheld) and stale replay, against a model of what must be visible."""

    api: Ingest

    def __init__(self) -> None:
        super().__init__()
        self.external_id = f"order-{uuid.uuid4().hex[:12]}"
        self.aid = article_id("wire", self.external_id)
        self.model: Visible | None = None
        self.sent: list[Sent] = []

    @initialize()
    def nothing_yet(self) -> None:
        assert self.api.isolated.storage.data.get(article_key(self.aid)) is None

    @rule(version=VERSIONS, title=TITLES, fmt=st.sampled_from(["native", "ninjs"]))
    def publish(self, version: int | None, title: str, fmt: str) -> None:
        self.send(Sent(fmt, version, title))

    @rule(version=VERSIONS, how=st.sampled_from(["delete", "canceled", "withheld"]))
    def withdraw(self, version: int | None, how: str) -> None:
        self.send(Sent(how, version, "撤稿"))

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if self.sent:
            self.send(data.draw(st.sampled_from(self.sent)))

    def send(self, request: Sent) -> None:
        expected, status = self.expect(request)
        answer = self.answer(request)
        self.sent.append(request)
        assert answer.status_code == status, (request, answer.text)
        self.model = expected

    def expect(self, request: Sent) -> tuple[Visible | None, int]:
        """The model: (what must be visible afterwards, the HTTP status of the answer)."""
        now, v = self.model, request.version
        if request.kind in ("native", "ninjs"):
            content = (request.kind, request.title)
            if now is None:
                return Visible(v or 1, False, content), 202
            if v is not None:
                return (Visible(v, False, content), 202) if v > now.version else (now, 200)
            if content == now.content:  # a replay, even of what was withdrawn
                return now, 200
            return Visible(now.version + 1, False, content), 202
        if request.kind == "withheld":  # the text is stored, held until a later version
            held = ("withheld", request.title)  # no publish's text equals it: usable releases
            if now is None:
                return Visible(v or 1, True, held), 202
            target = now.version if v is None else v
            if target < now.version or (target == now.version and now.killed):
                return now, 200
            return Visible(target, True, held), 202
        if now is None:
            return None, 404
        target = now.version if v is None else v
        if target < now.version or (target == now.version and now.killed):
            return now, 200
        return Visible(target, True, now.content), 202

    def answer(self, request: Sent) -> Any:
        if request.kind == "delete":
            params = {} if request.version is None else {"version": request.version}
            path = f"/v1/articles/{self.aid}"
            return self.api.client.delete(path, params=params, headers=self.api.headers())
        if request.kind == "native":
            fields = {} if request.version is None else {"version": request.version}
            return self.api.post_json(article(self.external_id, title=request.title, **fields))
        document = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())
        document |= {
            "uri": self.external_id,
            "headlines": [{"role": "main", "value": request.title}],
        }
        if request.kind in ("canceled", "withheld"):
            document["pubstatus"] = request.kind
        if request.version is None:
            document.pop("version", None)
        else:
            document["version"] = str(request.version)
        return self.api.post(orjson.dumps(document), NINJS)

    @invariant()
    def stored_is_the_model(self) -> None:
        stored = self.api.isolated.storage.data.get_json(article_key(self.aid))
        if self.model is None:
            assert stored is None
            return
        assert (stored["version"], stored["unpublished"]) == (
            self.model.version,
            self.model.killed,
        )
        assert stored["title"] == self.model.content[1]
        status = self.api.client.get(f"/v1/articles/{self.aid}", headers=self.api.headers())
        assert status.json()["version"] == self.model.version


@pytest.mark.slow
def test_a_kill_stays_killed_in_every_order(module_api: Ingest) -> None:
    KillsStayKilled.api = module_api
    run_state_machine_as_test(
        KillsStayKilled,
        settings=settings(
            max_examples=25,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_ninjs_canceled_at_version_5_is_stored_at_5_and_a_stale_3_cannot_republish(
    api: Ingest,
) -> None:
    document = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes()) | {"version": "2"}
    api.post(orjson.dumps(document), NINJS)
    canceled = api.post(orjson.dumps(document | {"pubstatus": "canceled", "version": "5"}), NINJS)
    stale = api.post(orjson.dumps(document | {"version": "3"}), NINJS)
    replayed = api.post(orjson.dumps(document | {"version": "5"}), NINJS)

    assert (canceled.status_code, canceled.json()["version"]) == (202, 5)
    assert stale.status_code == replayed.status_code == 200
    stored = api.isolated.storage.data.get_json(article_key(canceled.json()["id"]))
    assert (stored["version"], stored["unpublished"]) == (5, True)


def test_a_deleted_article_comes_back_with_a_newer_version_only(api: Ingest) -> None:
    aid = api.post_json(article(version=3)).json()["id"]
    deleted = api.client.delete(f"/v1/articles/{aid}", headers=api.headers())
    same = api.post_json(article(version=3))
    newer = api.post_json(article(version=4, title="更正后重发"))

    assert (deleted.status_code, deleted.json()["version"]) == (202, 3)
    assert same.status_code == 200
    assert (newer.status_code, newer.json()["status"]) == (202, "queued")
    stored = api.isolated.storage.data.get_json(article_key(aid))
    assert (stored["version"], stored["unpublished"]) == (4, False)


def test_delete_names_the_version_it_withdraws(api: Ingest) -> None:
    aid = api.post_json(article(version=2)).json()["id"]
    path = f"/v1/articles/{aid}"
    older = api.client.delete(path, params={"version": 1}, headers=api.headers())
    newer = api.client.delete(path, params={"version": 7}, headers=api.headers())
    bad = api.client.delete(path, params={"version": "²"}, headers=api.headers())

    assert older.status_code == 200
    assert older.json()["detail"] == "version 1 is not newer than stored version 2"
    assert (newer.status_code, newer.json()["version"]) == (202, 7)
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["query.version"]
    assert api.isolated.storage.data.get_json(version_key(aid, 7, withdrawn=True)) is not None


@pytest.mark.parametrize("version", ["²", "١٢", "\uff15", "-1", "", "x1"])
def test_a_ninjs_version_that_is_not_ascii_digits_is_a_422_naming_version(
    module_api: Ingest, version: str
) -> None:
    document = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())
    document |= {"uri": f"bad-version-{uuid.uuid4().hex[:8]}", "version": version}
    answer = module_api.post(orjson.dumps(document), NINJS)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["version"]


def test_a_bad_ninjs_version_fails_only_its_own_item_of_a_batch(api: Ingest) -> None:
    document = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())
    good = [document | {"uri": f"batch-{i}", "version": "1"} for i in range(3)]
    items = [*good[:2], document | {"uri": "batch-bad", "version": "²"}, good[2]]
    answer = api.client.post(
        "/v1/articles:batch",
        content=orjson.dumps({"items": items}),
        headers=api.headers(**{"Content-Type": NINJS}),
    )

    assert answer.status_code == 202, answer.text
    assert [item["status"] for item in answer.json()["items"]] == [202, 202, 422, 202]


def test_concurrent_versions_leave_the_newest_stored(api: Ingest) -> None:
    """Sixteen versions of one article sent at once, in a scrambled order: whatever the
    interleaving, the current document ends at the highest (here a kill at 16)."""
    order = [9, 3, 14, 1, 12, 6, 15, 2, 11, 5, 8, 13, 4, 10, 7]
    aid = api.post_json(article(version=1)).json()["id"]

    def send(version: int) -> int:
        body = article(title=f"第{version}版", version=version)
        return int(api.post_json(body).status_code)

    def kill() -> int:
        path = f"/v1/articles/{aid}"
        return int(
            api.client.delete(path, params={"version": 16}, headers=api.headers()).status_code
        )

    with ThreadPoolExecutor(16) as pool:
        answers = [pool.submit(kill), *(pool.submit(send, v) for v in order)]
        statuses = [a.result() for a in answers]

    assert set(statuses) <= {200, 202}
    stored = api.isolated.storage.data.get_json(article_key(aid))
    assert (stored["version"], stored["unpublished"]) == (16, True)
    assert stored["title"] in {f"第{v}版" for v in order} | {article()["title"]}


def test_a_conditional_write_has_exactly_one_winner(api: Ingest) -> None:
    """What the compare-and-set rests on: the store decides If-Match / If-None-Match
    atomically (SeaweedFS since 4.18), so of writers racing from one read, one wins."""
    data = api.isolated.storage.data

    def race(key: str, etag: str | None, round_: str) -> list[bool]:
        def put(i: int) -> bool:
            body = f"{round_} writer {i}".encode()
            return data.put_if(key, body, etag=etag, content_type="text/plain")

        with ThreadPoolExecutor(12) as pool:
            return list(pool.map(put, range(12)))

    created = race("race/new", None, "first")
    tagged = data.get_tagged("race/new")
    assert tagged is not None
    replaced = race("race/new", tagged[1], "second")

    assert created.count(True) == 1
    assert replaced.count(True) == 1
    assert data.put_if("race/new", b"stale", etag=tagged[1], content_type="text/plain") is False


def test_the_winner_is_decided_without_redis_state_so_losing_redis_changes_nothing(
    api: Ingest,
) -> None:
    """Redis is rebuildable and may come back empty: the compare-and-set lives on the data
    bucket's current document, so a stale version is still refused and a kill still holds."""
    aid = api.post_json(article(version=5)).json()["id"]
    api.client.delete(f"/v1/articles/{aid}", headers=api.headers())
    db, prefix = api.isolated.redis, api.isolated.keys.prefix
    db.delete(*db.keys(f"{prefix}*"))

    stale = api.post_json(article(version=4, title="旧"))
    replay = api.post_json(article(version=5))

    assert stale.status_code == replay.status_code == 200
    stored = api.isolated.storage.data.get_json(article_key(aid))
    assert (stored["version"], stored["unpublished"]) == (5, True)
