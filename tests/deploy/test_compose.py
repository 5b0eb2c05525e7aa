"""docker-compose.yml against the code it deploys (no Docker engine runs here): every command
is a `pressroom` command that parses, every PRESSROOM_ variable is a real setting, and the
operational promises (AOF, healthchecks, restarts, log rotation, one scheduler) hold."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.healthcheck import DEFAULT_PORTS, pressroom_argv
from services.edge import nginx
from services.stack import servers
from tests.deploy import catalog

pytestmark = pytest.mark.unit  # pure logic: no server, no browser

COMPOSE = catalog.compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PRESSROOM = {name: s for name, s in SERVICES.items() if "pressroom" in str(s.get("image"))}
ONE_SHOT = {name for name, s in SERVICES.items() if s.get("restart") == "no"}


def test_every_pressroom_service_runs_a_command_that_exists_with_options_it_takes() -> None:
    ran = {name: catalog.parse_command(s["command"]) for name, s in PRESSROOM.items()}

    assert ran == {
        "ingest": ["pressroom", "ingest"],
        "counter": ["pressroom", "counter"],
        "render-worker": ["pressroom", "render-worker"],
        "scheduler": ["pressroom", "scheduler"],
        "site-init": ["pressroom", "init"],
    }
    assert {" ".join(path) for path in ran.values()} <= catalog.commands()


def test_a_misspelt_command_or_option_would_be_caught() -> None:
    for wrong in (
        ["pressroom", "ingets"],
        ["pressroom", "ingest", "--hots", "0.0.0.0"],
        ["pressroom", "counter", "--port", "eighty"],
        ["celery", "worker"],
    ):
        with pytest.raises(catalog.NotACommand):
            catalog.parse_command(wrong)


def test_every_pressroom_variable_compose_sets_is_a_real_setting() -> None:
    settings = catalog.settings()
    named = {
        (service, variable)
        for service, spec in SERVICES.items()
        for variable in spec.get("environment", {})
        if variable.startswith("PRESSROOM_")
    }

    assert {(s, v) for s, v in named if v not in settings} == set()
    assert len(named) > 20  # the check above looked at something


def test_the_edge_is_given_every_value_its_nginx_config_needs() -> None:
    edge_env = SERVICES["edge"]["environment"]
    mount = SERVICES["edge"]["volumes"][0].split(":")

    assert nginx.placeholders() <= set(edge_env)
    assert catalog.REPO / mount[0] == nginx.TEMPLATE
    assert mount[1] == "/etc/nginx/templates/default.conf.template"
    assert {v for v in nginx.placeholders() if v.startswith("PRESSROOM_")} <= set(
        catalog.settings()
    )


def test_secrets_must_be_given_and_have_no_default() -> None:
    text = catalog.COMPOSE_FILE.read_text()
    secrets = {"VALKEY_PASSWORD"} | {s.env for s in catalog.settings().values() if s.secret}
    secrets |= {"PRESSROOM_S3_ACCESS_KEY_ID", "SEAWEEDFS_JWT_KEY", "SEAWEEDFS_JWT_READ_KEY"}
    for name in secrets:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, name
        assert all(use.startswith(":?") for use in uses), (name, uses)


def test_long_running_services_restart_rotate_logs_and_prove_health() -> None:
    for name, spec in SERVICES.items():
        logging = spec["logging"]
        assert logging["driver"] == "json-file", name
        assert logging["options"]["max-size"], name
        if name in ONE_SHOT:
            continue
        assert spec["restart"] in ("always", "unless-stopped"), name
        assert spec["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_services_wait_for_what_they_need_to_be_healthy_or_done() -> None:
    for name, spec in SERVICES.items():
        for needed, condition in spec.get("depends_on", {}).items():
            if needed in ONE_SHOT:
                assert condition == {"condition": "service_completed_successfully"}, name
            else:
                assert condition == {"condition": "service_healthy"}, name
                assert "healthcheck" in SERVICES[needed], needed
    for name in PRESSROOM:
        seeded = set() if name in ONE_SHOT else {"site-init"}  # the site's own pages first
        assert set(SERVICES[name]["depends_on"]) == {"valkey", "s3", "s3-init"} | seeded, name


def test_pressroom_healthchecks_probe_the_role_each_service_runs() -> None:
    for name, spec in PRESSROOM.items():
        if name in ONE_SHOT:
            continue
        probe = spec["healthcheck"]["test"]
        role = pressroom_argv(spec["command"])[0]
        assert probe[:3] == ["CMD", "python", "/app/deploy/healthcheck.py"], name
        assert probe[3] == role, name
        if role in DEFAULT_PORTS:
            assert probe[probe.index("--port") + 1] == spec["command"][-1], name


def test_valkey_keeps_an_append_only_file_on_a_volume() -> None:
    valkey = SERVICES["valkey"]
    command = " ".join(valkey["command"])

    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/data") for v in valkey["volumes"])
    assert "ping | grep -q PONG" in valkey["healthcheck"]["test"][1]


def test_exactly_one_scheduler_and_flower_only_when_monitoring() -> None:
    schedulers = [n for n, s in PRESSROOM.items() if "scheduler" in s["command"]]

    assert schedulers == ["scheduler"]
    assert SERVICES["scheduler"]["deploy"]["replicas"] == 1
    assert SERVICES["flower"]["profiles"] == ["monitoring"]
    assert all("profiles" not in s for n, s in SERVICES.items() if n != "flower")
    assert all(p.startswith("127.0.0.1:") for p in SERVICES["flower"]["ports"])


def test_s3_init_runs_the_script_the_tests_run() -> None:
    init = SERVICES["s3-init"]
    source, target, _ = init["volumes"][0].split(":")

    assert (catalog.REPO / source).resolve() == catalog.REPO / "deploy" / "s3-init.sh"
    assert init["entrypoint"] == ["/bin/sh", target]
    assert init["image"] == SERVICES["s3"]["image"]


def test_compose_runs_the_server_versions_the_tests_run() -> None:
    valkey_tag = SERVICES["valkey"]["image"].split(":")[1]
    weed_tag = SERVICES["s3"]["image"].split(":")[1]
    valkey_version = subprocess.run(
        [servers.valkey_binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    weed_version = subprocess.run(
        [servers.weed_binary(), "version"], capture_output=True, text=True, check=True
    ).stdout

    assert f"v={valkey_tag.split('-')[0]}." in valkey_version
    assert f" {weed_tag} " in weed_version


def test_compose_validates_against_the_compose_specification() -> None:
    checked = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(catalog.COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def weed_token_variables() -> set[str]:
    """security.toml's jwt keys as the WEED_ variables SeaweedFS reads instead."""
    return {f"WEED_{key.upper().replace('.', '_')}_KEY" for key in servers.JWT_KEYS}


def test_compose_runs_weed_as_closed_and_quiet_as_the_embedded_store(tmp_path: Path) -> None:
    """The flags and token keys `pressroom run` gives weed (services/stack/servers.py),
    compose gives it too; s3-init holds the same keys, or the filer refuses its IAM call."""
    store, init = SERVICES["s3"], SERVICES["s3-init"]
    embedded = servers.seaweedfs(8333, tmp_path / "data", tmp_path / "log").argv

    for flag in ("-master.telemetry=false", "-s3.autoCreateBucket=false"):
        assert flag in store["command"], flag
        assert flag in embedded, flag
    tokens = weed_token_variables()
    assert tokens <= set(store["environment"])
    assert {name: store["environment"][name] for name in tokens} == {
        name: init["environment"][name] for name in tokens
    }
    writes, reads = (store["environment"][f"WEED_JWT_{k}_KEY"] for k in ("SIGNING", "SIGNING_READ"))
    assert writes != reads
