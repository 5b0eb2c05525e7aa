"""ninjs, RSS and Atom documents (Chinese and English) and the batch endpoint."""

from __future__ import annotations

import select
import socket
from collections.abc import Callable
from typing import Any

import h11
import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest import formats
from services.ingest.errors import InvalidArticle
from shared.ids import article_id
from shared.models import article_key
from tests.ingest.conftest import SAMPLES, Ingest, article

NINJS = "application/ninjs+json"
RSS = "application/rss+xml"
ATOM = "application/atom+xml"


def stored(api: Ingest, external_id: str, feed: str = "wire") -> Any:
    return api.isolated.storage.data.get_json(article_key(article_id(feed, external_id)))


def test_ninjs_2_document_becomes_an_article(api: Ingest) -> None:
    answer = api.post((SAMPLES / "ninjs2-zh.json").read_bytes(), NINJS)

    assert answer.status_code == 202, answer.text
    assert answer.json()["version"] == 3  # ninjs "version": "3"
    doc = stored(api, "urn:newsml:news.cctv.com:20220711:ARTIqxwq")
    assert doc["title"] == "三部委:五年推动千所高校服务万家企业"  # the main headline
    assert doc["summary"] == "教育部、工信部和国家知识产权局联合印发《通知》。"
    assert doc["source"] == "央视新闻"
    assert doc["author"] == "总台记者 王莉"
    assert doc["tags"] == ["教育", "科技创新", "产学研"]
    assert doc["published_at"] == "2022-07-11T10:00:00+08:00"  # firstcreated
    assert "<h2>目标</h2>" in doc["body_html"]
    assert "<script" not in doc["body_html"]
    assert "alert" not in doc["body_html"]


def test_ninjs_1_spellings_are_read_too(api: Ingest) -> None:
    answer = api.post(
        (SAMPLES / "ninjs1-en.json").read_bytes(), NINJS, params={"channel": "reviews"}
    )

    assert answer.status_code == 202, answer.text
    doc = stored(api, "urn:newsml:xinhua.net:20220712:en-0042")
    assert doc["title"] == "China to pair 1,000 universities with 10,000 firms in five years"
    assert doc["author"] == "Xinhua Staff"
    assert doc["summary"].startswith("Three ministries")
    assert doc["tags"] == ["education", "science and technology"]
    assert doc["channel"] == "reviews"
    assert "onclick" not in doc["body_html"]
    assert "jointly issued" in doc["body_html"]


def test_ninjs_canceled_unpublishes_the_article(api: Ingest) -> None:
    document = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())
    api.post(orjson.dumps(document), NINJS)
    canceled = api.post(orjson.dumps(document | {"pubstatus": "canceled", "version": "4"}), NINJS)
    unknown = api.post(
        orjson.dumps(document | {"uri": "never-sent", "pubstatus": "canceled"}), NINJS
    )

    assert canceled.status_code == 202
    assert canceled.json()["status"] == "unpublished"
    assert stored(api, document["uri"])["unpublished"] is True
    assert unknown.status_code == 404


def test_bad_ninjs_names_the_ninjs_field(api: Ingest) -> None:
    document = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())
    no_uri = {k: v for k, v in document.items() if k != "uri"}
    bad_date = document | {"versioncreated": "2022-07-11 late morning"}
    no_headline = document | {"headlines": [{"role": "main", "value": "  "}]}

    answers = [api.post(orjson.dumps(d), NINJS) for d in (no_uri, bad_date, no_headline)]

    assert [a.status_code for a in answers] == [422, 422, 422]
    assert [[e["field"] for e in a.json()["errors"]] for a in answers] == [
        ["uri"],
        ["versioncreated"],
        ["headlines"],
    ]
    assert api.stored_articles() == []


def test_rss_channel_publishes_each_item_keyed_by_guid(api: Ingest) -> None:
    answer = api.post((SAMPLES / "rss-zh.xml").read_bytes(), RSS, params={"channel": "notices"})

    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (3, 0)
    notice = stored(api, "tswy-notice-2022-0701")
    assert notice["title"] == "关于召开中国通俗文艺研究会2022年理事会的通知"
    assert notice["source"] == "中国通俗文艺研究会"  # the channel's title
    assert notice["author"] == "研究会秘书处"
    assert notice["channel"] == "notices"
    assert notice["published_at"] == "2022-07-01T01:00:00Z"
    assert 'alt="会标"' in notice["body_html"]
    assert "onerror" not in notice["body_html"]
    assert stored(api, "http://www.example.org.cn/news/2022/0708.html")["tags"] == ["曲艺", "校园"]


def test_rss_replay_changes_nothing(api: Ingest) -> None:
    document = (SAMPLES / "rss-zh.xml").read_bytes()
    api.post(document, RSS)
    replay = api.post(document, RSS)

    assert replay.status_code == 200
    assert (replay.json()["accepted"], replay.json()["unchanged"]) == (0, 3)


def test_rss_in_gb18030_is_read(api: Ingest) -> None:
    text = (SAMPLES / "rss-zh.xml").read_text().replace('encoding="UTF-8"', 'encoding="GB18030"')
    answer = api.post(text.encode("gb18030"), "application/rss+xml; charset=GB18030")

    assert answer.json()["accepted"] == 3
    assert stored(api, "tswy-magazine-2022-03")["title"] == "《通俗文艺》杂志2022年第三期目录"
    assert stored(api, "tswy-magazine-2022-03")["channel"] == "news"  # the site's default


def test_atom_feed_publishes_each_entry_keyed_by_id(api: Ingest) -> None:
    answer = api.post((SAMPLES / "atom-en.xml").read_bytes(), ATOM)

    assert answer.status_code == 202
    fair = stored(api, "urn:xinhua:culture:20220712:0007")
    assert fair["title"] == "Folk arts & crafts fair opens in Beijing"
    assert fair["author"] == "Li Wen"
    assert fair["source"] == "Xinhua English: Culture"
    assert fair["published_at"] == "2022-07-12T00:00:00Z"
    assert fair["tags"] == ["culture", "folk arts"]
    assert "javascript:" not in fair["body_html"]
    opera = stored(api, "urn:xinhua:culture:20220712:0008")
    assert "five-city tour" in opera["body_html"]


def test_one_bad_item_does_not_block_the_rest_of_the_feed(api: Ingest) -> None:
    text = (SAMPLES / "rss-zh.xml").read_text()
    text = text.replace("Fri, 08 Jul 2022 08:30:00 +0800", "the eighth of July")
    text = text.replace("<title>《通俗文艺》杂志2022年第三期目录</title>", "<title> </title>")
    answer = api.post(text.encode(), RSS)

    result = answer.json()
    assert answer.status_code == 202
    assert (result["accepted"], result["rejected"]) == (1, 2)
    statuses = [(i["index"], i["status"]) for i in result["items"]]
    assert statuses == [(0, 202), (1, 422), (2, 422)]
    assert result["items"][1]["problem"]["errors"][0]["field"] == "items.1.pubDate"
    assert result["items"][2]["problem"]["errors"][0]["field"] == "items.2.title"
    assert stored(api, "tswy-magazine-2022-03") is None


def test_not_a_feed_is_a_422(api: Ingest) -> None:
    answers = [
        api.post(b"<html><body>hello</body></html>", RSS),
        api.post(b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', RSS),
    ]
    assert [a.status_code for a in answers] == [422, 422]
    assert api.stored_articles() == []


def test_batch_reports_each_item(api: Ingest) -> None:
    articles = [
        article("b-1"),
        article("b-2", title=""),
        article("b-3", channel="sports"),
        article("b-1", title="第二版", version=2),
        article("b-4"),
    ]
    answer = api.client.post(
        "/v1/articles:batch", json={"articles": articles}, headers=api.headers()
    )

    result = answer.json()
    assert answer.status_code == 202
    assert [i["status"] for i in result["items"]] == [202, 422, 422, 202, 202]
    assert (result["accepted"], result["unchanged"], result["rejected"]) == (3, 0, 2)
    assert result["items"][1]["problem"]["errors"][0]["field"] == "articles.1.title"
    assert result["items"][2]["problem"]["title"] == "Unknown channel"
    assert stored(api, "b-1")["title"] == "第二版"  # items of one article run in order
    assert stored(api, "b-2") is None


def test_batch_over_500_items_is_refused_whole(api: Ingest) -> None:
    articles = [{"external_id": f"n{n}", "title": "t"} for n in range(501)]
    answer = api.client.post(
        "/v1/articles:batch", json={"articles": articles}, headers=api.headers()
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "articles", "message": "at most 500 per request"}]
    assert api.stored_articles() == []


def test_batch_of_ninjs_items(api: Ingest) -> None:
    zh = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())
    en = orjson.loads((SAMPLES / "ninjs1-en.json").read_bytes())
    answer = api.client.post(
        "/v1/articles:batch",
        content=orjson.dumps({"items": [zh, en]}),
        headers=api.headers(**{"Content-Type": NINJS}),
    )
    assert answer.json()["accepted"] == 2


# --- hostile feed documents ------------------------------------------------------------------

FEED_TYPES = [RSS, ATOM, "application/xml", "text/xml"]
ENTITY_DECLARATIONS = [
    # billion laughs: each level multiplies the one below
    '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">',
    '<!ENTITY c SYSTEM "file:///etc/passwd">',  # external entity (XXE)
    '<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd">%p;',  # external parameter entity
    "<!ENTITY % p \"<!ENTITY c 'quiet'>\">%p;",  # parameter entity declaring another
]


def rss(items: int, *, doctype: str = "", item: str = "") -> bytes:
    entries = "".join(
        item or f"<item><guid>g{n}</guid><title>第{n}条 &c;</title></item>" for n in range(items)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<rss version="2.0"><channel>'
        f"<title>通讯社</title>{entries}</channel></rss>"
    ).encode()


def atom(items: int) -> bytes:
    entries = "".join(
        f"<entry><id>urn:e{n}</id><title>Entry {n}</title>"
        "<updated>2022-07-11T02:00:00Z</updated></entry>"
        for n in range(items)
    )
    return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>{entries}</feed>'.encode()


def rdf(items: int) -> bytes:
    entries = "".join(
        f'<item rdf:about="urn:r{n}"><title>Item {n}</title><link>urn:r{n}</link></item>'
        for n in range(items)
    )
    return (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="urn:c"><title>RSS 1.0</title>'
        f"</channel>{entries}</rdf:RDF>"
    ).encode()


def problem_fields(error: InvalidArticle) -> list[str]:
    return [e["field"] for e in error.extra["errors"]]


@settings(max_examples=60, deadline=None, database=None)
@given(
    shape=st.sampled_from([rss, atom, rdf]),
    items=st.integers(min_value=0, max_value=40),
    limit=st.integers(min_value=1, max_value=30),
)
def test_a_feed_is_read_whole_up_to_the_limit_and_refused_past_it(
    shape: Callable[[int], bytes], items: int, limit: int
) -> None:
    document = shape(items) if shape is not rss else rss(items).replace(b" &c;", b"")
    if items == 0 or items > limit:
        with pytest.raises(InvalidArticle) as refused:
            formats.parse_collection(RSS, document, None, limit)
        assert refused.value.status == 422
        assert problem_fields(refused.value) == ["items"]
    else:
        parsed = formats.parse_collection(RSS, document, None, limit)
        assert [p.index for p in parsed if p.article is not None] == list(range(items))


@settings(max_examples=30, deadline=None, database=None)
@given(
    declaration=st.sampled_from(ENTITY_DECLARATIONS),
    items=st.integers(min_value=1, max_value=5),
    media=st.sampled_from(FEED_TYPES),
)
def test_a_feed_declaring_entities_is_refused_before_it_is_read(
    declaration: str, items: int, media: str
) -> None:
    document = rss(items, doctype=f"<!DOCTYPE rss [{declaration}]>")
    with pytest.raises(InvalidArticle) as refused:
        formats.parse_collection(media, document, None, 500)
    assert problem_fields(refused.value) == ["body"]
    assert "entity" in refused.value.extra["errors"][0]["message"]


def test_an_old_rss_doctype_without_declarations_is_still_read() -> None:
    doctype = (
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd">'
    )
    parsed = formats.parse_collection(RSS, rss(2, doctype=doctype).replace(b" &c;", b""), None, 9)
    assert [p.article.title for p in parsed if p.article] == ["第0条", "第1条"]


def test_an_empty_feed_body_is_a_422_naming_the_body(api: Ingest) -> None:
    answers = [api.post(body, media) for media in FEED_TYPES for body in (b"", b" \r\n\t")]

    assert {a.status_code for a in answers} == {422}
    assert {a.headers["content-type"] for a in answers} == {"application/problem+json"}
    assert {e["field"] for a in answers for e in a.json()["errors"]} == {"body"}
    assert api.stored_articles() == []


def test_entity_bombs_and_external_entities_store_nothing(api: Ingest) -> None:
    answers = [
        api.post(rss(3, doctype=f"<!DOCTYPE rss [{declaration}]>"), RSS)
        for declaration in ENTITY_DECLARATIONS
    ]

    assert [a.status_code for a in answers] == [422] * len(ENTITY_DECLARATIONS)
    assert all(a.json()["errors"][0]["field"] == "body" for a in answers)
    assert api.stored_articles() == []


class RawPost:
    """A POST sent over a socket with `Expect: 100-continue`: the body goes only once the
    route asks for it, so the test knows when ingest has authenticated and starts reading."""

    def __init__(self, url: str, headers: dict[str, str], length: int) -> None:
        address = httpx.URL(url)
        self.sock = socket.create_connection((address.host, address.port or 80), timeout=30)
        self.http = h11.Connection(h11.CLIENT)
        fields = {**headers, "Host": address.netloc.decode(), "Content-Length": str(length)}
        request = h11.Request(
            method="POST",
            target="/v1/articles",
            headers=[*fields.items(), ("Expect", "100-continue")],
        )
        self.sock.sendall(self.http.send(request) or b"")

    def next_event(self) -> Any:
        while (event := self.http.next_event()) is h11.NEED_DATA:
            self.http.receive_data(self.sock.recv(65536))
        return event

    def send_body_when_asked(self, body: bytes) -> None:
        assert isinstance(self.next_event(), h11.InformationalResponse)  # 100 Continue
        data = self.http.send(h11.Data(data=body)) or b""
        self.sock.sendall(data + (self.http.send(h11.EndOfMessage()) or b""))

    def answered(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def answer(self) -> tuple[int, Any]:
        response = self.next_event()
        body = b""
        while isinstance(event := self.next_event(), h11.Data):
            body += event.data
        self.sock.close()
        return response.status_code, orjson.loads(body)


def test_ingest_answers_health_checks_while_it_parses_a_feed(api: Ingest) -> None:
    # Slow to parse (an element costs feedparser tens of microseconds) and refused only
    # once parsed, so that on the event loop the answer would follow the parse at once.
    document = b'<rss version="2.0"><channel><title>t</title>' + b"<c/>" * 10_000
    document += b"</channel></rss>"
    post = RawPost(str(api.client.base_url), api.headers(**{"Content-Type": RSS}), len(document))
    post.send_body_when_asked(document)  # from here on ingest is parsing it

    health = api.client.get("/healthz")
    answered_while_parsing = not post.answered()
    status, problem = post.answer()

    assert health.status_code == 200
    assert answered_while_parsing, "/healthz waited for the feed to be parsed"
    assert status == 422
    assert problem["errors"] == [{"field": "items", "message": "the document has no items"}]


def test_a_feed_nested_past_the_parser_limit_is_refused_naming_the_body() -> None:
    deep = b"<x>" * 3000 + b"</x>" * 3000
    document = rss(2).replace(b" &c;", b"").replace(b"<channel>", b"<channel>" + deep)
    with pytest.raises(InvalidArticle) as refused:
        formats.parse_collection(RSS, document, None, 500)
    assert problem_fields(refused.value) == ["body"]


def test_a_feed_of_few_items_but_countless_elements_is_refused_unread() -> None:
    """feedparser's work follows the elements: 500 items of 1,000 empty elements each would
    hold a worker thread for tens of seconds."""
    filler = b"<x/>" * 1000
    items = b"".join(
        b"<item><title>t</title><guid>g%d</guid>%s</item>" % (i, filler) for i in range(500)
    )
    document = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>%s</channel></rss>'
    )
    with pytest.raises(InvalidArticle) as refused:
        formats.parse_collection(RSS, document % items, None, 500)
    assert problem_fields(refused.value) == ["body"]
    assert "elements" in refused.value.body()["errors"][0]["message"]
