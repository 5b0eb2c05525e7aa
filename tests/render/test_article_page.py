"""The article page holds every element of the seed page, all from the article and site config."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.render.service import publish_article
from shared.models import Article, article_key
from tests.conftest import Isolated, sample
from tests.render.conftest import RenderFactory
from tests.test_end_to_end import page_path, wait_for_page

SEED = json.loads(sample())
FRIEND_LINKS = [
    "中国文艺网",
    "中国剧协网",
    "中国影协网",
    "中国音协网",
    "中国美协网",
    "中国曲艺网",
    "中国舞协网",
    "中国民协网",
    "中国摄协网",
    "中国书协网",
]
PARAGRAPHS = re.findall(r"<p>(.*?)</p>", SEED["body_html"])


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


@pytest.fixture(scope="module")
def seed_page(ingest_module: httpx.Client, site_module: httpx.Client) -> str:
    accepted = ingest_module.post("/v1/articles", json=SEED).json()
    page = wait_for_page(site_module, page_path(accepted["url"]))
    assert page.status_code == 200
    return page.text


@pytest.mark.parametrize(
    "element",
    [
        "中国通俗文艺研究会融媒体中心官网",
        "您现在的位置 :首页>新闻内页",
        SEED["title"],
        "时间:2022-07-11",
        "来源:央视新闻",
        "编辑:单思月",
        "头条",
        "研究会公告",
        "点击排行",
        *[
            "中国文艺网",
            "中国剧协网",
            "中国影协网",
            "中国音协网",
            "中国美协网",
            "中国曲艺网",
            "中国舞协网",
            "中国民协网",
            "中国摄协网",
            "中国书协网",
        ],
        *["关于我们", "相关查询", "免责声明", "广告报价"],
        "中国通俗文艺研究会融媒体中心官网 © 2013-2022 版权所有",
        "广播电视节目制作经营:许可证号(京)字第11495号",
        "京ICP备2021035177号",
        "京公网安备 11010602103744号",
        "单位地址:北京市丰台区马家堡东路121号院2号楼16层",
        "违法和不良信息举报电话:010-53657566",
    ],
)
def test_page_shows_seed_element(seed_page: str, element: str) -> None:
    assert element in visible_text(seed_page)


def test_page_shows_every_body_paragraph(seed_page: str) -> None:
    text = visible_text(seed_page)
    assert len(PARAGRAPHS) == 5
    for paragraph in PARAGRAPHS:
        assert paragraph in text


def test_click_count_slot_is_hidden_until_the_script_fills_it(seed_page: str) -> None:
    # readers without JavaScript see the seed's second copy: no 点击量 line
    assert re.search(
        r'<span class="hits" hidden>点击量:<span data-pressroom-hits="[0-9a-f]{20}">', seed_page
    )


def test_nothing_on_the_page_is_hard_coded_in_templates(
    isolated: Isolated, make_render: RenderFactory, site_toml: Callable[[dict[str, str]], Path]
) -> None:
    config = site_toml(
        {
            'name = "中国通俗文艺研究会融媒体中心官网"': 'name = "测试门户"',
            "京ICP备2021035177号": "沪ICP备00000001号",
            "010-53657566": "021-00000000",
            'title = "中国文艺网"': 'title = "友链一号"',
        }
    )
    ctx = make_render(site_config=config)
    article = Article.model_validate(
        SEED
        | {
            "id": "0" * 20,
            "feed": "t",
            "version": 1,
            "received_at": datetime.now(UTC),
            "source": "新华社",
        }
    )
    isolated.storage.data.put_json(article_key(article.id), article.model_dump(mode="json"))

    assert publish_article(ctx, article.id, 1) == "published"

    path = ctx.site.article_path(article.id, article.channel, article.published_at)
    text = visible_text((isolated.storage.site.get(path) or b"").decode())
    for expected in ("测试门户", "沪ICP备00000001号", "021-00000000", "友链一号", "来源:新华社"):
        assert expected in text
    for seed_only in ("中国通俗文艺研究会", "京ICP备", "010-53657566", "中国文艺网", "央视新闻"):
        assert seed_only not in text
