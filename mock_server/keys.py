"""API keys and projects: which budget a request counts against.

A rate-limited API limits a project (an organisation), never a socket
address, and never by anything a client can make up. Without `--api-key`
the server issued no keys: every request, whatever it carries, counts
against the one budget of `OPEN_PROJECT`. With `--api-key KEY[=PROJECT]`
(repeatable) a request must present one of the issued keys; it counts
against its key's project, and keys of one project share one budget. A
key given without a project is a project of its own, named after its
place among the flags (`key1`, `key2`, ...), so that no key is ever
written where a project's name is shown (the log, the limiter's storage).

Each API presents its key its own way and answers a missing or unknown
one in its own words; this module only reads keys (`bearer`,
`header_key`, `query_key`) and maps them to projects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mock_server.vocabulary import RatebenchError

#: The one project of a server that issued no keys.
OPEN_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys a server issued: key -> project. Empty: no key is needed."""

    projects: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never the keys themselves
        return f"<Keys {len(self.projects)} keys, projects {', '.join(self.names())}>"

    @property
    def required(self) -> bool:
        return bool(self.projects)

    def names(self) -> tuple[str, ...]:
        """Every project, in the order its first key was given."""
        if not self.required:
            return (OPEN_PROJECT,)
        return tuple(dict.fromkeys(self.projects.values()))

    def project_of(self, key: str | None) -> str | None:
        """The project a request presenting `key` counts against; None when
        the server issued keys and `key` is missing or not one of them."""
        if not self.required:
            return OPEN_PROJECT
        return self.projects.get(key) if key else None


def limit_key(project: str) -> str:
    """The limiter's key of a project's budget (one per project, every API)."""
    return f"project:{project}"


class KeySpecError(RatebenchError):
    """An `--api-key` flag that is not KEY or KEY=PROJECT; the message says how to fix it."""


def parse_keys(specs: Sequence[str]) -> Keys:
    """`--api-key KEY[=PROJECT]` flags -> Keys; KeySpecError says what is wrong."""
    projects: dict[str, str] = {}
    for i, spec in enumerate(specs, start=1):
        key, sep, project = spec.partition("=")
        if not key or any(c.isspace() for c in key) or not key.isprintable():
            raise KeySpecError(
                f"--api-key #{i} is not a key: use KEY or KEY=PROJECT, the key being printable "
                "characters without spaces or '=', e.g. --api-key sk-team-a=alpha"
            )
        if sep and not project.strip():
            raise KeySpecError(
                f"--api-key #{i} names no project after '=': use KEY=PROJECT, or KEY alone "
                "for a project of its own"
            )
        if key in projects:
            raise KeySpecError(f"--api-key #{i} repeats an earlier key: give each key once")
        projects[key] = project.strip() if sep else f"key{i}"
    return Keys(projects)


def bearer(headers: Mapping[str, str]) -> str | None:
    """The key of `Authorization: Bearer KEY` (OpenAI's way), if any."""
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def header_key(headers: Mapping[str, str], name: str) -> str | None:
    """The key of a header of its own (`x-api-key`, `x-goog-api-key`), if any."""
    return headers.get(name, "").strip() or None


def query_key(query: Mapping[str, str], name: str = "key") -> str | None:
    """The key of a query parameter (Gemini's `?key=`), if any."""
    return query.get(name, "").strip() or None
