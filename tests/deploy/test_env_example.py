""".env.example documents every setting the code has and every variable compose reads."""

from __future__ import annotations

import re

import pytest

from tests.deploy import catalog, envfile

pytestmark = pytest.mark.unit  # pure logic: no server, no browser

EXAMPLE = catalog.REPO / ".env.example"
REGENERATE = ".venv/bin/python -m tests.deploy.envfile > .env.example"


def names_in_example() -> set[str]:
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(), re.MULTILINE))


def test_every_setting_of_every_service_is_in_env_example() -> None:
    missing = set(catalog.settings()) - names_in_example()

    assert missing == set(), f"undocumented settings; run `{REGENERATE}`"


def test_env_example_names_no_setting_that_does_not_exist() -> None:
    documented = {n for n in names_in_example() if n.startswith("PRESSROOM_")}

    assert documented - set(catalog.settings()) == set()


def test_every_variable_compose_reads_is_documented() -> None:
    assert catalog.interpolated() - names_in_example() == set()
    assert set(envfile.COMPOSE_VARIABLES) == catalog.interpolated() - set(catalog.settings())


def test_required_values_are_left_empty_for_the_operator_to_fill() -> None:
    text = EXAMPLE.read_text()
    for name in ("VALKEY_PASSWORD", *envfile.REQUIRED):
        assert re.search(rf"^{name}=$", text, re.MULTILINE), name
