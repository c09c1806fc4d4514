"""A RequestMatch's header, cookie and query matches as the regular expressions routers take.

Expressions match the whole value (Envoy's and Istio's semantics) and are anchored, so a router that
searches instead (Traefik, NGINX) means the same thing.
"""

from __future__ import annotations

import re

from shiftlane.api.spec import HeaderMatch
from shiftlane.traffic.router import RouterError


def value_regex(match: HeaderMatch) -> str:
    """The expression for a prefix or regex match (an exact one needs none)."""
    if match.prefix is not None:
        return f"^{re.escape(match.prefix)}.*"
    assert match.regex is not None
    return match.regex


def cookie_regex(cookies: list[HeaderMatch]) -> str:
    """One expression on the `Cookie` header: a header matches once per name, and RE2 has no lookahead
    to require two cookies in any order, so a match takes one cookie."""
    if len(cookies) != 1:
        raise RouterError(f"a match can test one cookie through the Cookie header, not {len(cookies)}")
    cookie = cookies[0]
    if cookie.exact is not None:
        value = re.escape(cookie.exact)
    elif cookie.prefix is not None:
        value = re.escape(cookie.prefix) + "[^;]*"
    else:
        value = f"(?:{cookie.regex})"
    return rf"^(.*;\s*)?{re.escape(cookie.name)}={value}(;.*)?$"
