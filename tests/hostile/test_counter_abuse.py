"""Counter abuse: floods of random ids create nothing, a reader hammering reload is counted
once per window, and crawlers are answered but never counted."""

from __future__ import annotations

import secrets

import httpx

from tests.faults.conftest import FaultStack
from tests.faults.figures import record
from tests.hostile.conftest import publish

CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
    "Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
]
READER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


def keys_of(fs: FaultStack) -> set[str]:
    """The counter's keys and the article indexes; render's coalescing state and the
    reconciler's requeue marks come and go on their own."""
    render = f"{fs.stack.prefix}{{render}}:"
    return {
        k
        for k in fs.redis.scan_iter(f"{fs.stack.prefix}*")
        if not k.startswith(render) and not k.endswith(":requeued")
    }


def count(fs: FaultStack, article_id: str) -> int:
    return int(
        fs.counter.get("/v1/counts", params={"ids": article_id}).json()["counts"][article_id]
    )


def test_random_id_floods_create_no_key(hostile: FaultStack) -> None:
    fs = hostile
    anchor = publish(fs, "abuse-flood-anchor")["id"]
    # the first hit of the day creates the day's visitor salt: one key a day, not per id
    assert fs.counter.post(f"/v1/hits/{anchor}", headers={"User-Agent": READER}).is_success
    before = keys_of(fs)
    ids = [secrets.token_hex(10) for _ in range(300)] + ["ZZZ", "0" * 21, "%00", "a:{x}"]
    answers = [fs.counter.post(f"/v1/hits/{i}") for i in ids]
    answers += [fs.counter.get(f"/v1/hits/{i}.gif") for i in ids[:50]]
    assert {a.status_code for a in answers} == {404}
    assert keys_of(fs) == before
    record("counter random-id flood", hits=len(answers), keys_created=len(keys_of(fs) - before))


def test_a_reader_hammering_reload_is_counted_once_per_window(hostile: FaultStack) -> None:
    fs = hostile
    aid = publish(fs, "abuse-reload")["id"]
    before = count(fs, aid)
    # The reader comes from 127.0.0.2: on this machine 127.0.0.1 is the edge, a trusted
    # proxy whose X-Forwarded-For the counter believes; a reader's address never is.
    reader = httpx.HTTPTransport(local_address="127.0.0.2")
    edge_url = fs.stack.urls["edge_counter_url"]
    with httpx.Client(base_url=edge_url, transport=reader, timeout=10) as edge:
        answers = [
            edge.post(
                f"/v1/hits/{aid}",
                # a forged X-Forwarded-For does not make one reader many
                headers={"User-Agent": READER, "X-Forwarded-For": f"203.0.113.{n}"},
            )
            for n in range(60)
        ]
    assert {a.status_code for a in answers} == {200}
    assert count(fs, aid) == before + 1
    record("counter reload hammering", reloads=len(answers), counted=count(fs, aid) - before)


def test_crawlers_are_answered_but_not_counted(hostile: FaultStack) -> None:
    fs = hostile
    aid = publish(fs, "abuse-crawlers")["id"]
    before = count(fs, aid)
    answers = [
        fs.counter.post(f"/v1/hits/{aid}", headers={"User-Agent": f"{ua} #{n}"})
        for ua in CRAWLERS
        for n in range(5)
    ]
    assert {a.status_code for a in answers} == {200}
    assert count(fs, aid) == before
    reader = fs.counter.post(f"/v1/hits/{aid}", headers={"User-Agent": READER})
    assert reader.json()["count"] == before + 1
    record("counter crawler user agents", crawler_hits=len(answers), counted=0)
