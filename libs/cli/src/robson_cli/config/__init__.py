"""The robson.yaml configuration: schema, loading with field-named errors, and applying it
through the services' HTTP APIs."""

from robson_cli.config.apply import apply_config
from robson_cli.config.loader import ConfigError, default_config, load_config
from robson_cli.config.schema import AccountConfig, RobsonConfig, TraderConfig

__all__ = ["AccountConfig", "ConfigError", "RobsonConfig", "TraderConfig", "apply_config",
           "default_config", "load_config"]
