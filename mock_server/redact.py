"""Storage URIs as the server shows them: without their credentials.

`--storage redis://:PASSWORD@host/0` must reach Redis whole, but the ready
line, `GET /log` (which anyone who can reach the server may read) and error
messages show `redis://:***@host/0`. A password may also sit in the query
(`?password=...`, which redis-py reads), and a lone user part may be a
password written where the user goes (`redis://PASSWORD@host`): both are
hidden too.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HIDDEN = "***"
SECRET_PARAMETERS = frozenset({"password"})


def redact(uri: str) -> str:
    """`uri` with any password (and a user part standing alone) replaced by ***."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return HIDDEN if "@" in uri else uri  # not a URI we can take apart: show no part of it
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{HIDDEN}@{host}" if colon else f"{HIDDEN}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in SECRET_PARAMETERS for name, _ in pairs):
            query = urlencode(
                [(n, HIDDEN if n.lower() in SECRET_PARAMETERS else v) for n, v in pairs],
                safe="*",
            )
    if (netloc, query) == (parts.netloc, parts.query):
        return uri  # nothing to hide (and `memory://` stays as written)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, uri: str) -> str:
    """`text` (an error message, say) with `uri`'s secrets hidden wherever they appear."""
    text = text.replace(uri, redact(uri))
    try:
        parts = urlsplit(uri)
        secrets = [parts.password, parts.username if parts.password is None else None]
        secrets += [v for n, v in parse_qsl(parts.query) if n.lower() in SECRET_PARAMETERS]
    except ValueError:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, HIDDEN)
    return text
