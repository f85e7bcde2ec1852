"""Kubernetes names and label values from kite's names: sanitised, bounded, stable."""

from __future__ import annotations

import re
from collections.abc import Mapping

from kitecli.scan.hashing import digest_bytes, utf8

MAX_LABEL = 63
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def short_hash(text: str, length: int = 12) -> str:
    """`length` hex digits of the blake3 of `text`."""
    return digest_bytes(utf8(text)).removeprefix("b3:")[:length]


def is_label_value(value: str) -> bool:
    return len(value) <= MAX_LABEL and _LABEL_VALUE.match(value) is not None


def is_dns_label(name: str) -> bool:
    return len(name) <= MAX_LABEL and _DNS_LABEL.match(name) is not None


def is_dns_subdomain(name: str) -> bool:
    return len(name) <= 253 and _DNS_SUBDOMAIN.match(name) is not None


def label_value(text: str) -> str:
    """`text` as a label value: invalid runs become `-`; too long → prefix + hash of `text`."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    if len(value) <= MAX_LABEL:
        return value
    head = value[: MAX_LABEL - 13].rstrip("-_.")
    return f"{head}-{short_hash(text)}"


def dns_label(text: str, *, limit: int = MAX_LABEL) -> str:
    """`text` as a DNS-1123 label of at most `limit` characters (hashed when cut)."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"
    if len(name) <= limit:
        return name
    head = name[: limit - 13].rstrip("-")
    return f"{head}-{short_hash(text)}" if head else short_hash(text, limit)


def datum_label(key: Mapping[str, str]) -> str:
    """A datum key as one label value: its values in field order, joined by `.`."""
    return label_value(".".join(key[k] for k in sorted(key)))
