"""The S3 key pair in CommonSettings: both or neither, and never a placeholder in production."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from shared.settings import CommonSettings


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRESSROOM_S3_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("PRESSROOM_S3_SECRET_ACCESS_KEY", raising=False)


def test_without_keys_the_standard_chain_is_left_to_find_them() -> None:
    settings = CommonSettings(environment="production", _env_file=None)

    assert settings.s3_access_key_id is None
    assert settings.s3_secret_access_key is None


def test_empty_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRESSROOM_S3_ACCESS_KEY_ID", "")
    monkeypatch.setenv("PRESSROOM_S3_SECRET_ACCESS_KEY", "")

    settings = CommonSettings(environment="production", _env_file=None)

    assert settings.s3_access_key_id is None


@pytest.mark.parametrize(
    "given", [{"s3_access_key_id": "pressroom"}, {"s3_secret_access_key": "a-real-secret-key"}]
)
def test_half_a_key_pair_is_refused_naming_both(given: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="PRESSROOM_S3_ACCESS_KEY_ID and PRESSROOM_S3_SECRET"):
        CommonSettings.model_validate({"environment": "test", **given})


def test_a_placeholder_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        CommonSettings(
            environment="production",
            s3_access_key_id="pressroom",
            s3_secret_access_key=SecretStr("changeme"),
            _env_file=None,
        )
