"""Which contract object an alert lands on, with matchers written as in Alertmanager.

An object is identified by a **rule**: its own ``match`` (label = value, as Alertmanager's old
``match:`` map) and ``matchers`` (Alertmanager's matcher syntax: ``name="value"``,
``name!="value"``, ``name=~"regex"``, ``name!~"regex"``), or a contract ``alert_rules`` entry
(the same two plus ``hosts``). Every matcher of a rule must hold; among the rules that hold, the
one with the most matchers wins; on a tie, the one with more matchers on labels other than the
host, then more equalities, then the first written.

As in Alertmanager, a missing label reads as the empty string and a regex is anchored at both
ends. Unlike Alertmanager, **host labels** (``instance``, ``host``, ``hostname``) compare as
hosts: case, a ``:port`` (also ``[v6]:port``), a trailing dot and the domain of a fully
qualified name when the other side is a short name do not matter — ``srv-pg-01`` matches
``SRV-PG-01.steppe.local:9100``. A regex on a host label holds if it matches the raw value, the
value without its port or the short name.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from shared.contract.model import Contract

Op = Literal["=", "!=", "=~", "!~"]
HOST_LABELS = frozenset({"instance", "host", "hostname"})
_MATCHER = re.compile(
    r'^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*$',
    re.DOTALL,
)


# Every rule with hosts compares an alert's host labels with its own: tens of comparisons per
# alert, each parsing both sides as IP addresses (a ValueError for a host name). The answers are
# pure functions of the text, cached (bounded: labels come from outside).
_HOST_CACHE = 16384


@functools.lru_cache(maxsize=_HOST_CACHE)
def host_key(value: str) -> str:
    """A host label's value as a comparable host name: lower case, no port, no trailing dot."""
    text = value.strip().lower()
    if "://" in text:  # blackbox-style targets: http://host:port/path
        text = text.split("://", 1)[1].split("/", 1)[0]
    if text.startswith("["):  # [v6]:port
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        text = text.rsplit(":", 1)[0]
    return text.rstrip(".")


_IPV4_CHARS = frozenset("0123456789.")


@functools.lru_cache(maxsize=_HOST_CACHE)
def _is_ip(text: str) -> bool:
    if ":" not in text and not _IPV4_CHARS.issuperset(text):
        return False  # a host name: no address parse (and its ValueError) for it
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def short_name(host: str) -> str:
    """The first label of a host name (an IP address stays whole)."""
    return host if _is_ip(host) else host.split(".", 1)[0]


def same_host(a: str, b: str) -> bool:
    """Whether two host label values name the same host (a short name matches its FQDNs)."""
    ka, kb = host_key(a), host_key(b)
    if ka == kb:
        return True
    if _is_ip(ka) or _is_ip(kb) or ("." in ka and "." in kb):
        return False
    return short_name(ka) == short_name(kb)


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: Op
    value: str

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"{self.name}: not a valid regular expression: {exc}") from exc

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    def holds(self, labels: dict[str, str]) -> bool:
        value = labels.get(self.name, "")
        positive = self._positive(value)
        return positive if self.op in ("=", "=~") else not positive

    def _positive(self, value: str) -> bool:
        host = self.name in HOST_LABELS and value != ""
        if not self.is_regex:
            return same_host(value, self.value) if host and self.value else value == self.value
        pattern = _compiled(self.value)
        if pattern.fullmatch(value):
            return True
        if host:
            key = host_key(value)
            return bool(pattern.fullmatch(key) or pattern.fullmatch(short_name(key)))
        return False

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value, ensure_ascii=False)}"


def _compiled(pattern: str) -> re.Pattern[str]:
    return _PATTERNS.get(pattern) or _PATTERNS.setdefault(pattern, re.compile(pattern))


_PATTERNS: dict[str, re.Pattern[str]] = {}


def parse_matcher(text: str) -> Matcher:
    """``name="value"`` / ``name!=value`` / ``name=~"re"`` / ``name!~"re"`` → ``Matcher``."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"not a matcher (name=value, name!=value, name=~re, name!~re): {text!r}")
    name, op, value = found["name"], found["op"], found["value"]
    if name.startswith('"'):
        name = json.loads(name)
    if value.startswith('"'):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"badly quoted value in {text!r}") from exc
        if not isinstance(value, str):  # pragma: no cover - json of a quoted string is a str
            raise ValueError(f"badly quoted value in {text!r}")
    elif any(c in value for c in '"{},'):
        raise ValueError(f"quote a value with special characters: {text!r}")
    op_: Op = op  # type: ignore[assignment]
    return Matcher(name, op_, value)


def parse_matchers(items: Iterable[str]) -> list[Matcher]:
    """Each item one matcher, or an Alertmanager selector ``{a="b", c=~"d"}``."""
    out: list[Matcher] = []
    for item in items:
        text = item.strip()
        if text.startswith("{") and text.endswith("}"):
            out.extend(parse_matcher(part) for part in _split_selector(text[1:-1]))
        else:
            out.append(parse_matcher(text))
    return out


def _split_selector(body: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for char in body:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        parts.append(current)
    return [p for p in parts if p.strip()]


def check_matchers(items: list[str]) -> list[str]:
    """Pydantic validator: refuse a matcher that does not parse, naming it."""
    parse_matchers(items)
    return items


@dataclass(frozen=True, slots=True)
class Rule:
    """One way an alert lands on ``object_id``; ``where`` says where the contract writes it."""

    object_id: str
    where: str
    matchers: tuple[Matcher, ...]
    hosts: frozenset[str] = frozenset()

    @property
    def weight(self) -> tuple[int, int, int]:
        """More matchers win; on a tie, more matchers on labels other than the host (the host
        says where an alert comes from, the others what it is about — everything on a host
        shares its host), then more equality matchers."""
        count = len(self.matchers) + (1 if self.hosts else 0)
        about = sum(1 for m in self.matchers if m.name not in HOST_LABELS)
        exact = sum(1 for m in self.matchers if not m.is_regex) + (1 if self.hosts else 0)
        return count, about, exact

    def holds(self, labels: dict[str, str]) -> bool:
        if not all(m.holds(labels) for m in self.matchers):
            return False
        if self.hosts:
            values = [labels[k] for k in sorted(HOST_LABELS) if labels.get(k)]
            return any(same_host(v, h) for v in values for h in self.hosts)
        return True

    def describe(self) -> str:
        parts = [str(m) for m in self.matchers]
        if self.hosts:
            parts.append("host in " + ", ".join(sorted(self.hosts)))
        return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True, slots=True)
class Match:
    """The object an alert lands on, the rule that won and every other rule that also held."""

    object_id: str
    rule: Rule
    also: tuple[Rule, ...]

    def explain(self) -> str:
        lines = [
            f"lands on {self.object_id}: {self.rule.where} {self.rule.describe()} "
            f"({self.rule.weight[0]} matcher(s), the most specific rule that holds)"
        ]
        lines.extend(
            f"  also held, less specific: {rule.object_id} via {rule.where} {rule.describe()}"
            for rule in self.also
        )
        return "\n".join(lines)


class Matching:
    """A contract's rules compiled once; ``match(labels)`` answers with the reason."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        read = {m.name for r in self.rules for m in r.matchers}
        if any(r.hosts for r in self.rules):
            read |= HOST_LABELS
        # The labels no rule reads cannot change the answer, and a missing label reads as the
        # empty string: the answer is a function of the read labels' values, cached (bounded:
        # labels come from outside). A storm repeats the same few label sets thousands of times.
        self._read = tuple(sorted(read))
        self._by_values = functools.lru_cache(maxsize=_HOST_CACHE)(self._match_values)

    def match(self, labels: dict[str, str]) -> Match | None:
        return self._by_values(tuple(labels.get(name, "") for name in self._read))

    def _match_values(self, values: tuple[str, ...]) -> Match | None:
        labels = dict(zip(self._read, values, strict=True))
        held = [r for r in self.rules if r.holds(labels)]
        if not held:
            return None
        best = held[0]
        for rule in held[1:]:
            if rule.weight > best.weight:
                best = rule
        return Match(best.object_id, best, tuple(r for r in held if r is not best))


def contract_matching(contract: Contract) -> Matching:
    """The contract's alert rules in matching order: each object's ``match`` labels and
    ``matchers`` (``{"object": id}`` when it has neither), then the contract's ``alert_rules``."""
    rules: list[Rule] = []
    for index, obj in enumerate(contract.objects):
        written = [Matcher(k, "=", v) for k, v in obj.match.items()]
        matchers = written + parse_matchers(obj.matchers) or [Matcher("object", "=", obj.id)]
        rules.append(Rule(obj.id, f"objects[{index}] ({obj.id})", tuple(matchers)))
    for index, rule in enumerate(contract.alert_rules):
        written = [Matcher(k, "=", v) for k, v in rule.labels.items()]
        rules.append(
            Rule(
                rule.object,
                f"alert_rules[{index}]",
                tuple(written + parse_matchers(rule.matchers)),
                frozenset(rule.hosts),
            )
        )
    return Matching(rules)
