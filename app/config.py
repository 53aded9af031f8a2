"""Service configuration: one pydantic-settings class, every field overridable as ``LNX_<NAME>``.

Every setting is documented in ``docs/configuration.md``; keep the two in step (a test checks it).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Runtime settings of one exchange process (server, worker or CLI)."""

    model_config = SettingsConfigDict(env_prefix="LNX_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./lnx-data"), description="Where the SQLite file and the log key live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/lnx.sqlite3. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    db_pool_size: int = Field(
        default=10, ge=1, le=200, description="PostgreSQL connection pool size per process."
    )
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0, description="SQLite busy timeout.")
    gc_freeze_after_startup: bool = Field(
        default=False,
        description="Move everything alive after startup out of the garbage collector's reach "
        "(gc.freeze); `lnx serve` turns it on.",
    )
    gc_young_threshold: int = Field(
        default=50_000,
        ge=1,
        description="In a served process (with gc_freeze_after_startup): allocations between two "
        "young-generation collections; CPython's default of 700 runs several per submission.",
    )
    sqlite_cache_mib: int = Field(
        default=16, ge=1, le=4096, description="SQLite page cache of each pooled connection, in MiB."
    )

    log_origin: str = Field(default="lnx.example/log", description="Origin line of the log's checkpoints.")
    log_key_path: Path | None = Field(
        default=None,
        description="Signed-note private key of the log; default <data_dir>/log-key.txt (created 0600).",
    )
    log_key_name: str | None = Field(
        default=None, description="Key name of the log's verifier key; default = origin."
    )
    integrate_interval_ms: int = Field(
        default=100, ge=5, le=10_000, description="Background integration interval for leaves left pending."
    )
    submit_batch_max: int = Field(
        default=256, ge=1, le=5000, description="Most submissions committed together."
    )
    submit_batch_wait_ms: float = Field(
        default=2.0,
        ge=0,
        le=1000,
        description="How long a submission batch gathers company before committing.",
    )
    submit_batch_adaptive: bool = Field(
        default=True,
        description="Close a batch's window early once it holds as many submissions as the previous batch.",
    )
    key_cache_ttl_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long the submit path's first key check trusts a key it has read (0 = no cache).",
    )

    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Request body limit (413 above).")
    max_page_size: int = Field(
        default=1000, ge=1, le=10_000, description="Largest page any list endpoint returns."
    )
    default_page_size: int = Field(
        default=100, ge=1, le=10_000, description="Page size when the client gives none."
    )
    token_last_used_resolution_s: int = Field(
        default=60, ge=0, description="A token's last-used time is written at most this often."
    )
    auth_cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a process trusts a token it has looked up (0 = look up every request).",
    )

    webhook_allow_private: bool = Field(
        default=False, description="Allow webhook URLs resolving to loopback/private/link-local addresses."
    )
    webhook_schedule_s: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000],
        description="Retry back-off schedule of webhook deliveries in seconds.",
    )
    webhook_timeout_s: float = Field(
        default=15.0, gt=0, description="Timeout of one webhook delivery attempt."
    )
    webhook_disable_after_s: float = Field(
        default=5 * 24 * 3600, gt=0, description="An endpoint failing this long is disabled."
    )
    run_webhook_worker: bool = Field(
        default=True, description="Run the webhook delivery worker inside serve."
    )
    webhook_subscription_concurrency: int = Field(
        default=4, ge=1, le=1000, description="Most attempts in flight per subscription per worker."
    )
    webhook_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="Finished deliveries and their attempts are pruned after this many days (0 = never).",
    )

    metrics_enabled: bool = Field(default=True, description="Expose Prometheus metrics at /metrics.")
    metrics_allow: list[str] = Field(
        default=["127.0.0.1/32", "::1/128"], description="Client networks allowed to read /metrics."
    )
    rate_limit_per_minute: int = Field(
        default=6000, ge=0, description="Requests per token per minute (0 = off)."
    )
    rate_limit_burst: int = Field(
        default=0,
        ge=0,
        description="Requests a token may make at once before the per-minute rate applies "
        "(0 = one minute's worth).",
    )
    max_feed_wait_s: float = Field(default=30.0, ge=0, le=30, description="Longest long-poll wait.")
    sse_keepalive_s: float = Field(default=15.0, gt=0, le=15, description="SSE comment interval.")
    sse_buffer_events: int = Field(
        default=1000, ge=1, description="Events buffered per SSE client before closing it."
    )
    max_streams: int = Field(
        default=5000, ge=1, description="Most concurrent SSE streams and long polls per process."
    )

    reminder_interval_s: float = Field(
        default=60.0, gt=0, le=3600, description="How often each worker checks for due reminders."
    )

    log_level: str = Field(default="INFO", description="Python log level.")
    access_log: bool = Field(default=True, description="One JSON log line per request.")

    @field_validator("log_origin")
    @classmethod
    def _origin_is_one_line(cls, value: str) -> str:
        if not value or "\n" in value or value != value.strip():
            raise ValueError("the log origin must be one non-empty line without surrounding spaces")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lnx.sqlite3').resolve()}"

    @property
    def resolved_log_key_path(self) -> Path:
        return self.log_key_path or (self.data_dir / "log-key.txt")


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
