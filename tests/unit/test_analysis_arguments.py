"""{{args.NAME}} placeholders in provider specs."""

from __future__ import annotations

import pytest

from shiftlane.analysis.arguments import MissingArgument, substitute, substitute_all, substitute_model
from shiftlane.api.analysis_providers import MetricProvider

ARGS = {"service": "checkout", "namespace": "shop", "canary-hash": "5d9f"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no placeholder", "no placeholder"),
        ("{{args.service}}", "checkout"),
        ("{{ args.service }}", "checkout"),
        ("{{args.service}}-{{args.namespace}}", "checkout-shop"),
        ('rate(http{service="{{args.service}}",hash="{{ args.canary-hash }}"}[1m])', 'rate(http{service="checkout",hash="5d9f"}[1m])'),
        ("{{args.service}}{{args.service}}", "checkoutcheckout"),
        ("{{ service }}", "{{ service }}"),  # not an argument placeholder: left as written
        ("{args.service}", "{args.service}"),
        ("", ""),
    ],
)
def test_substitute_table(text: str, expected: str) -> None:
    assert substitute(text, ARGS) == expected


def test_a_value_is_not_substituted_again() -> None:
    assert substitute("{{args.a}}", {"a": "{{args.b}}", "b": "x"}) == "{{args.b}}"


def test_an_unknown_argument_is_named() -> None:
    with pytest.raises(MissingArgument) as missing:
        substitute("up{job='{{args.job}}'}", ARGS)
    assert missing.value.name == "job"
    assert "'job'" in str(missing.value)


def test_substitute_all_reaches_every_string_and_keeps_keys() -> None:
    value = {"{{args.service}}": ["{{args.namespace}}", 3, {"x": "{{args.service}}"}], "n": None}
    assert substitute_all(value, ARGS) == {"{{args.service}}": ["shop", 3, {"x": "checkout"}], "n": None}


def test_substitute_model_fills_provider_fields_and_validates_again() -> None:
    provider = MetricProvider.model_validate(
        {"web": {"url": "{{args.base}}/health", "headers": [{"name": "X-Service", "value": "{{args.service}}"}]}}
    )
    filled = substitute_model(provider, {**ARGS, "base": "http://127.0.0.1:8080"})
    assert filled.web.url == "http://127.0.0.1:8080/health"
    assert filled.web.headers[0].value == "checkout"
    with pytest.raises(ValueError):  # an argument that makes the URL no URL
        substitute_model(provider, {**ARGS, "base": "ftp:"})
