"""Settings: one frozen object per process, built from ``BATON_*`` environment variables."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import Topic, topic_name

ENV_PREFIX = "BATON_"
DEFAULT_CONTRACT = Path(__file__).resolve().parent.parent / "examples" / "minimal" / "contract.yaml"


def _one_or_more(value: object) -> object:
    return [value] if isinstance(value, str | SecretStr) else value


Credential = Annotated[tuple[SecretStr, ...], BeforeValidator(_one_or_more), Field(min_length=1)]
"""One secret (``"s3cret"``), or several while it is rotated (``["new", "old"]``, the new one
first): each is accepted, so clients move to the new one before the old one is removed."""


def matches(given: str, credential: Credential) -> bool:
    """Whether ``given`` is one of ``credential``'s secrets (constant time for each)."""
    candidate = given.encode()
    return any(hmac.compare_digest(candidate, s.get_secret_value().encode()) for s in credential)


class Settings(BaseSettings):
    """Everything a Baton service needs to know about its surroundings; the docstring under a
    setting is its description."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    kafka_bootstrap: str = "127.0.0.1:9092"
    """Kafka bootstrap servers: host:port, comma-separated"""
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    topic_prefix: str = "baton."
    group_prefix: str = "baton."
    pg_dsn: SecretStr = SecretStr("postgresql://baton@127.0.0.1:5433/baton")
    """PostgreSQL DSN"""
    contract_path: Path = DEFAULT_CONTRACT
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    admin_http_host: str = "127.0.0.1"
    """the address /metrics, /docs and /openapi.json are bound to"""
    admin_http_port: int | None = None
    """when set, /metrics, /docs, /redoc and /openapi.json are served only on this port (404 on
    http_port) and the API only on http_port; health on both"""
    insecure: bool = False
    """start even with open doors (no receiver, party or reader credentials): each is logged as
    a warning and exported as baton_insecure_mode{reason} 1"""
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # "otlp" sends spans to OTEL_EXPORTER_OTLP_ENDPOINT (http/protobuf); the exporter reads the
    # standard OTEL_* variables itself. OTEL_TRACES_EXPORTER=otlp|console|none works as well.
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        "none",
        validation_alias=AliasChoices(
            "BATON_OTEL_EXPORTER", "OTEL_TRACES_EXPORTER", "otel_exporter"
        ),
    )
    kafka_max_batch_bytes: int = Field(512 * 1024, gt=0)
    """producer batch per partition: a storm's alerts share one partition, and aiokafka keeps
    one batch in flight per partition, so a small batch caps throughput"""
    kafka_linger_ms: int = Field(0, ge=0)
    """how long the producer holds a batch open for more messages"""
    consumer_batch_max_records: int = Field(2000, gt=0)
    """records a consumer takes (and handles in one transaction) at most; a storm's alerts
    consumer pays round trips per batch (the processed records, the incidents read and
    locked, the writes, the acknowledgements, the commit): 2,000 made a storm 1.2-1.3x faster
    end to end than 500 (docs/PERFORMANCE.md, round two)"""
    consumer_batch_max_wait_ms: int = Field(20, gt=0)
    """how long a consumer waits for records when none are ready (an idle consumer also pauses
    this long between polls: the latency floor)"""
    kafka_session_timeout_ms: int = Field(10_000, gt=0)
    """consumer-group session: an instance silent this long (killed, frozen) is dropped from its
    group and its partitions go to the others; shorter moves them sooner after a crash, too
    short drops a busy instance. The broker accepts group.min.session.timeout.ms to
    group.max.session.timeout.ms (6 s to 30 min by default)"""
    kafka_heartbeat_interval_ms: int = Field(3_000, gt=0)
    """how often a consumer tells its group it lives, and learns of a rebalance (another
    instance joining waits for it); at most a third of the session"""
    sla_tick_seconds: float = Field(1.0, gt=0)
    """how often sla-clock looks for due deadlines"""
    # -- health and failure answers ---------------------------------------------------------
    ready_timeout_seconds: float = Field(2.0, gt=0)
    """how long /readyz waits for PostgreSQL and for Kafka each"""
    ready_stall_seconds: float = Field(30.0, gt=0)
    """a consumer whose committed offset has not moved for this long while its partition has lag
    makes the service unready"""
    health_interval_seconds: float = Field(5.0, gt=0)
    """how often the dependency checks and consumer lag are sampled"""
    publish_timeout_seconds: float = Field(4.0, gt=0)
    """how long an HTTP request waits for Kafka to acknowledge before answering 503 with
    Retry-After"""
    pg_command_timeout_seconds: float = Field(10.0, gt=0)
    """every database call waits at most this long (asyncpg's command_timeout; the server's
    statement_timeout just under it): a frozen PostgreSQL is unavailable, not a hang"""
    http_request_timeout_seconds: float = Field(15.0, gt=0)
    """every HTTP request (health routes aside) is answered within this: 503 + Retry-After when
    it has no answer by then; keep it above publish_timeout_seconds + intake_action_wait_seconds"""
    http_keepalive_seconds: float = Field(100.0, gt=0)
    """an idle keep-alive connection is closed after this: longer than clients keep theirs
    (httpx 5 s, Go's net/http 90 s), so a client never sends a request on a connection the
    server is closing at that moment (it would get no answer)"""
    retry_after_seconds: int = Field(5, ge=1)
    """the Retry-After of a 503 answered while a dependency is down"""
    # -- intake -----------------------------------------------------------------------------
    intake_max_body_bytes: int = Field(512 * 1024, gt=0)
    """larger request bodies are refused with 413"""
    intake_max_group_body_bytes: int = Field(64 * 1024 * 1024, gt=0)
    """larger bodies from the group senders (Alertmanager, Grafana) are refused with 413: a
    whole alert group arrives in one webhook"""
    intake_max_alert_bytes: int = Field(256 * 1024, gt=0, le=900 * 1024)
    """one alert's event larger than this is refused (413 naming it, a capped sample
    dead-lettered) while the rest of its group is kept; below the broker's message limit
    (message.max.bytes, 1 MiB by default)"""
    intake_max_alerts: int = Field(50_000, gt=0)
    """a webhook with more alerts is refused with 413 and kept in the dead-letter topic; set
    Alertmanager's max_alerts (webhook_config) at or below it"""
    intake_max_json_depth: int = Field(32, gt=1)
    """deeper JSON documents are refused with 422"""
    intake_correlation_window_seconds: float = Field(900.0, ge=0)
    """alerts on connected objects within this window join one incident"""
    intake_tick_seconds: float = Field(5.0, gt=0)
    """how often intake looks for maintenance windows that ended"""
    intake_source_tokens: dict[str, Credential] = Field(default_factory=dict)
    """receiver source -> bearer token (or a list while it is rotated); any entry here or in
    intake_hmac_secrets turns receiver authentication on"""
    intake_hmac_secrets: dict[str, Credential] = Field(default_factory=dict)
    """receiver source -> HMAC-SHA256 secret for signed bodies (or a list while it is rotated)"""
    intake_replay_window_seconds: float = Field(300.0, gt=0)
    """how old a signed timestamp may be"""
    reporting_reader_tokens: dict[str, Credential] = Field(default_factory=dict)
    """reader (a party id, or operator) -> token for reporting's read API (or a list while it is
    rotated); non-empty turns read auth on: a contractor then sees only its own incidents"""
    intake_party_tokens: dict[str, Credential] = Field(default_factory=dict)
    """party id -> API token for actions (or a list while it is rotated); non-empty turns action
    auth on"""
    checkin_secret: Credential | None = None
    """the secret check-in keys are derived under (HMAC of each check-in's name; or a list while
    it is rotated, the new one first: the old keys are still accepted); sla-clock's pings need
    it, `baton checkins list` prints the keys"""
    intake_action_wait_seconds: float = Field(5.0, ge=0)
    """how long an HTTP action waits for the commands consumer's verdict before answering 202
    pending"""
    # -- router -----------------------------------------------------------------------------
    router_tick_seconds: float = Field(1.0, gt=0)
    """how often the router looks for unacknowledged assignments"""
    router_party_topic_replication: int | None = Field(None, ge=1)
    """replication factor of the per-party topics it creates; unset: the cluster's
    default.replication.factor"""
    router_webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    """party id -> HMAC-SHA256 secret; a party whose contract contact is an http(s) URL gets its
    messages pushed there, signed with it"""
    router_webhook_backoff_seconds: float = Field(2.0, gt=0)
    """first retry delay of a failed push; doubles up to 5 minutes"""
    router_webhook_max_attempts: int = Field(8, ge=1)
    """after this many failed pushes: dead letter, coordinator told"""
    # -- people: notifications and action links (router/notify.py, intake/links.py) ----------
    notify_senders: dict[str, SecretStr] = Field(default_factory=dict)
    """channel kind (email, messenger, sms, pager, phone) -> Apprise URL template; {address} is
    replaced by the contact's address, e.g. email:
    mailto://relay:1025?from=baton@example.org&to={address}. A kind without one is named in the
    coordinator's message to be reached by hand"""
    notify_tick_seconds: float = Field(1.0, gt=0)
    """how often the router's notification worker looks for due rows"""
    notify_backoff_seconds: float = Field(5.0, gt=0)
    """first retry delay of a failed notification; doubles up to 5 min"""
    notify_max_attempts: int = Field(8, ge=1)
    """after this many failed sends: failed, the coordinator told"""
    notify_send_timeout_seconds: float = Field(30.0, gt=0)
    """one send may take this long before it counts as failed"""
    links_secret: Credential | None = None
    """HMAC secret of the action links in messages (or a list while it is rotated: the router
    signs with the first, intake accepts any); unset: no links"""
    links_base_url: str = "http://127.0.0.1:8080"
    """intake's address as people reach it: action links point there"""
    links_ttl_hours: float = Field(24.0, gt=0)
    """how long an action link works"""
    # -- sla-clock --------------------------------------------------------------------------
    sla_fire_batch: int = Field(500, gt=0)
    """how many due SLA timers one tick transaction fires at most"""
    sla_test_clock: Path | None = None
    """TEST ONLY: a JSON file {now, anchor, speed} the test rewrites to move sla-clock's
    contract time (now + (real - anchor) * speed; speed 0 stands still): days of contract time
    in seconds, jumps while a process is down (sla_clock/simclock.py)"""

    test_crash_after_publish: str | None = None
    """TEST ONLY: the consumer (intake.alerts, router, sla-clock) that kills its process after a
    batch's publishes, before its commit"""

    @model_validator(mode="after")
    def _heartbeats_inside_the_session(self) -> Settings:
        if 3 * self.kafka_heartbeat_interval_ms > self.kafka_session_timeout_ms:
            raise ValueError(
                f"kafka_heartbeat_interval_ms: {self.kafka_heartbeat_interval_ms} is more than a"
                f" third of kafka_session_timeout_ms ({self.kafka_session_timeout_ms})"
            )
        return self

    @model_validator(mode="after")
    def _admin_port_of_its_own(self) -> Settings:
        if self.admin_http_port is not None and self.admin_http_port == self.http_port:
            raise ValueError(
                f"admin_http_port: {self.admin_http_port} is http_port too; give it its own"
            )
        return self

    def topic(self, topic: Topic) -> str:
        return topic_name(self.topic_prefix, topic)

    def group(self, service: str) -> str:
        return f"{self.group_prefix}{service}"
