"""Redirect URIs: the one rule for registering them and for pushing them (FAPI 2.0, RFC 8252).

A redirect URI is parsed, never compared by prefix: absolute `https`, or plain `http` only to
the literal loopback hosts `127.0.0.1`, `[::1]` and `localhost` (on any port, RFC 8252 §7.3);
no user information, no fragment, no backslash, no whitespace or control character, ASCII
only. Pushed requests then match a registered URI exactly, character for character.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from gateway.partners.models import RegistryError
from policies.messages import Text

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})
MAX_LENGTH = 2000
MAX_URIS = 10

_URI = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<authority>[^/?]*)(?P<rest>[/?].*)?")
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"(?=.{{1,253}}\Z)({_LABEL}\.)*{_LABEL}\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")

_EXPLAIN = (
    " Register an absolute https URI (plain http only to 127.0.0.1, [::1] or localhost), "
    "without user information or fragment.",
    "请登记绝对 https 地址（明文 http 仅限 127.0.0.1、[::1] 或 localhost），且不含用户信息和片段。",
)


def _says(en: str, zh: str) -> Text:
    return Text(en + _EXPLAIN[0], zh + _EXPLAIN[1])


TOO_LONG = _says(
    f"The redirect URI is empty or longer than {MAX_LENGTH} characters.",
    f"重定向地址为空或超过 {MAX_LENGTH} 个字符。",
)
BAD_CHARACTERS = _says(
    "The redirect URI holds whitespace, control characters, backslashes or non-ASCII "
    "characters (percent-encode them).",
    "重定向地址含有空白、控制字符、反斜杠或非 ASCII 字符（请使用百分号编码）。",
)
FRAGMENT = _says("The redirect URI has a fragment ('#').", "重定向地址含有片段（“#”）。")
NOT_ABSOLUTE = _says(
    "The redirect URI is not an absolute http(s) URI with a lowercase scheme.",
    "重定向地址不是方案名为小写的绝对 http(s) 地址。",
)
USERINFO = _says(
    "The redirect URI has user information ('user@' before the host).",
    "重定向地址在主机名前含有用户信息（“user@”）。",
)
BAD_HOST = _says(
    "The redirect URI's host is not a lowercase DNS name or an IP address, or its port is "
    "not a number from 1 to 65535.",
    "重定向地址的主机名不是小写域名或 IP 地址，或端口不是 1 至 65535 之间的数字。",
)
PLAIN_HTTP = _says(
    "The redirect URI uses plain http to a host that is not loopback: codes would travel "
    "in the clear.",
    "重定向地址对非环回主机使用明文 http：授权码将以明文传输。",
)
TOO_MANY = Text(
    f"A client registers at most {MAX_URIS} redirect URIs.",
    f"每个客户端最多登记 {MAX_URIS} 个重定向地址。",
)


def redirect_uri_problem(uri: object) -> Text | None:
    """What is wrong with `uri` as a redirect URI, or None if it may be registered."""
    if not isinstance(uri, str) or not 0 < len(uri) <= MAX_LENGTH:
        return TOO_LONG
    if not uri.isascii() or not uri.isprintable() or " " in uri or "\\" in uri:
        return BAD_CHARACTERS
    if "#" in uri:
        return FRAGMENT
    parts = _URI.fullmatch(uri)
    if parts is None or parts["scheme"] not in ("https", "http"):
        return NOT_ABSOLUTE
    authority = parts["authority"]
    if "@" in authority:
        return USERINFO
    host, port = _split_authority(authority)
    if port is not None and not (_PORT.match(port) and 0 < int(port) <= 65535):
        return BAD_HOST
    if not (_DNS_NAME.match(host) or _is_ip_literal(host)):
        return BAD_HOST
    if parts["scheme"] == "http" and host not in LOOPBACK_HOSTS:
        return PLAIN_HTTP
    return None


def check_redirect_uris(uris: Iterable[str]) -> list[str]:
    """`uris` if every one may be registered; else `RegistryError` saying what is wrong."""
    checked = list(uris)
    if len(checked) > MAX_URIS:
        raise RegistryError(TOO_MANY)
    for uri in checked:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise RegistryError(problem)
    return checked


def is_registered(uri: str, registered: Iterable[str]) -> bool:
    """`uri` is one of `registered`, character for character; a loopback `http` URI may differ
    from a registered one in its port alone (RFC 8252 §7.3: native apps listen on any port)."""
    known = list(registered)
    if uri in known:
        return True
    loopback = _loopback_without_port(uri)
    return loopback is not None and any(_loopback_without_port(r) == loopback for r in known)


def _loopback_without_port(uri: str) -> tuple[str, str] | None:
    """(host, path and query) of a valid loopback `http` URI, or None for any other URI."""
    if redirect_uri_problem(uri) is not None:
        return None
    parts = _URI.fullmatch(uri)
    if parts is None or parts["scheme"] != "http":
        return None
    host, _ = _split_authority(parts["authority"])
    if host not in LOOPBACK_HOSTS:
        return None
    return host, parts["rest"] or ""


def _is_ip_literal(host: str) -> bool:
    """An IPv4 address in dotted decimal, or an IPv6 address in brackets (RFC 3986 §3.2.2)."""
    try:
        if host.startswith("[") and host.endswith("]"):
            return ipaddress.ip_address(host[1:-1]).version == 6
        return ipaddress.ip_address(host).version == 4
    except ValueError:
        return False


def _split_authority(authority: str) -> tuple[str, str | None]:
    """Host and port as written; a bracketed IPv6 literal keeps its brackets."""
    if authority.startswith("["):
        host, bracket, after = authority.partition("]")
        if not bracket or (after and not after.startswith(":")):
            return "", None
        return host + "]", after[1:] if after else None
    host, colon, port = authority.partition(":")
    return host, port if colon else None
