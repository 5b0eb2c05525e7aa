"""Counter settings (PRESSROOM_*)."""

from __future__ import annotations

import ipaddress
from functools import cached_property

from pydantic import Field

from shared.settings import CommonSettings

# Known crawlers, link previewers and monitoring robots: answered, never counted.
CRAWLERS = (
    r"bot\b|bot/|crawl|spider|slurp|baiduspider|yandex|sogou|bytespider|petalbot|"
    r"facebookexternalhit|embedly|preview|monitor|pingdom|uptime|lighthouse|"
    r"archive\.org|ia_archiver|scrapy"
)
# Automated browsers; the development stack counts them (its browser test is one).
HEADLESS = r"headless|phantomjs|puppeteer|playwright|selenium|webdriver"


class CounterSettings(CommonSettings):
    cors_origins: list[str] = Field(
        default_factory=list, description="Site origins whose pages may call the counter."
    )
    dedupe_seconds: int = Field(
        default=30, ge=0, description="One visitor, one article: one hit per window (0: off)"
    )
    hourly_retention_days: int = Field(
        default=35, ge=2, description="Hourly buckets and daily uniques older than this go"
    )
    count_headless: bool = Field(
        default=False, description="Count headless browsers (development and browser tests)"
    )
    crawler_user_agents: str = Field(
        default=CRAWLERS, description="Regex (case-insensitive) of User-Agents never counted"
    )
    trusted_proxies: str = Field(
        default="127.0.0.1/32,::1/128",
        description="Comma-separated networks whose X-Forwarded-For is believed (the edge)",
    )
    max_batch: int = Field(
        default=1024, ge=1, le=4096, description="Most hits one group commit carries"
    )
    commits_in_flight: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Group commits sent before the first returns (more overlap, smaller batches)",
    )
    snapshot_prefix: str = Field(
        default="counter/snapshots/", description="Where snapshots go in the data bucket"
    )

    @property
    def not_counted_pattern(self) -> str:
        """User-Agents answered but not counted."""
        if self.count_headless:
            return self.crawler_user_agents
        return f"{self.crawler_user_agents}|{HEADLESS}"

    @cached_property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(net.strip(), strict=False)
            for net in self.trusted_proxies.split(",")
            if net.strip()
        )
