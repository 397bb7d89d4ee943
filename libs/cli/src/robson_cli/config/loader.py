"""Read robson.yaml (or .toml): numbers become Decimals (the services refuse floats), errors
name the field."""

from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from robson_cli.config.schema import RobsonConfig, cross_references


class ConfigError(ValueError):
    """An unreadable or invalid configuration; one line per problem, each naming its field."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(problems))


class _DecimalLoader(yaml.SafeLoader):
    """YAML floats as exact Decimals: `risk_per_trade: 0.01` means 0.01, not 0.01000000000000000020816."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node))
    try:
        value = Decimal(text)
    except InvalidOperation:
        return loader.construct_yaml_float(node)
    return value if value.is_finite() else loader.construct_yaml_float(node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def parse(text: str, suffix: str = ".yaml") -> Any:
    if suffix == ".toml":
        return tomllib.loads(text, parse_float=Decimal)
    return yaml.load(text, Loader=_DecimalLoader)


def validate(raw: Any, source: str = "") -> RobsonConfig:
    if not isinstance(raw, dict):
        raise ConfigError([f"{source or 'config'}: expected a mapping with accounts and traders"], source)
    try:
        return RobsonConfig.model_validate(raw)
    except ValidationError as exc:
        # Model-level errors are the cross-references, recomputed from the raw file so they
        # come together with the field errors (pydantic skips them while a field is invalid).
        fields = [_describe(e) for e in exc.errors() if e["loc"]]
        model = [line for e in exc.errors() if not e["loc"]
                 for line in str(e["msg"]).removeprefix("Value error, ").splitlines()]
        found = cross_references(raw)
        raise ConfigError(fields + found + [p for p in model if p not in found], source) from None


def load_config(path: Path) -> RobsonConfig:
    """Read and validate; raises ConfigError (e.g. "traders[0].symbols[1]: 'BTC-USD' is not a symbol…")."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror or exc})"], str(path)) from None
    try:
        raw = parse(text, Path(path).suffix.lower())
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"{path}: not valid {'TOML' if str(path).endswith('.toml') else 'YAML'}: {exc}"],
                          str(path)) from None
    return validate(raw, str(path))


def default_config() -> RobsonConfig:
    """The configuration shipped with the package (the same as the repository's robson.yaml)."""
    text = resources.files("robson_cli.config").joinpath("default.yaml").read_text()
    return validate(parse(text), "built-in default")


def _describe(error: Any) -> str:
    where = _location(error["loc"])
    message = str(error["msg"]).replace("Value error, ", "")
    if error["type"] == "extra_forbidden":
        message = "unknown field (not part of the schema)"
    elif error["type"] == "missing":
        message = "required field is missing"
    if not where:
        return message
    got = _shown(error.get("input"))
    if error["type"] not in ("missing", "extra_forbidden") and got and got not in message:
        return f"{where}: {message} (got {got})"
    return f"{where}: {message}"


def _shown(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (str, int, float, bool)):
        return repr(value)
    return ""


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after[_symbol(), str]", "function-after[_asset(), str]") or "[" in str(part):
            continue  # pydantic's name for a validator step, not a field
        else:
            out += f".{part}" if out else str(part)
    return out
