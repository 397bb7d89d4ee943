"""Settings of notify (environment ``ROBSON_NOTIFY_*``, plus shared ``NATS_URL``/``DATABASE_URL``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings

from robson_notify.domain.policy import RetryPolicy


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROBSON_NOTIFY_", extra="ignore",
                                      populate_by_name=True)

    service_name: str = "notify"
    db_schema: str = "notify"
    http_port: int = 8107
    routine_attempts: int = 3
    critical_max_age_hours: float = 24.0
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 300.0
    send_timeout_seconds: float = 10.0
    sender_poll_seconds: float = Field(1.0, gt=0)
    """The sender wakes at once for new deliveries; this bounds the wait for retries."""
    sender_batch: int = 200
    collapse_min: int = 3
    """When a channel's rate limit cannot send every due notice, this many (or more) routine
    notices of one kind go out as one summary message."""
    summary_poll_seconds: float = Field(30.0, gt=0)
    summary_grace_seconds: float = 120.0
    """A day whose reset has passed is summarized once its account's events have been quiet this
    long (late events of the day are still counted), or at once when a later day has begun."""
    keep_days: float = 30.0
    """Delivered and failed deliveries are kept this long (the `robson notifications` history)."""
    discord_api_url: str = "https://discord.com"
    telegram_api_url: str = "https://api.telegram.org"

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            routine_attempts=self.routine_attempts,
            critical_max_age=timedelta(hours=self.critical_max_age_hours),
            backoff_base=timedelta(seconds=self.backoff_base_seconds),
            backoff_cap=timedelta(seconds=self.backoff_cap_seconds),
        )
