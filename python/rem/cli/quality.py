"""How good the moments are: rem eval."""

from __future__ import annotations

from pathlib import Path

import click

from .. import config as cfg
from ..output import echo_json
from .common import Ctx, Finite, llm_options, pass_ctx


@click.command("eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False))
@click.option("--path", "paths", multiple=True, type=click.Choice(["none", "configured", "oracle", "stored"]),
              help="What to score (repeatable; default: none and configured): `none` = REM's extraction alone, "
                   "`configured` = the model `rem dream` would use (or --llm/--llm-base-url/--local-model), "
                   "`oracle` = an endpoint answering from the gold (the ceiling around the model), "
                   "`stored` = the moments earlier dreams wrote into the database.")
@llm_options
@click.option("--gap-minutes", type=Finite(min=0), help="Idle gap that starts a new segment (default 30).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@pass_ctx
def eval_cmd(c: Ctx, gold: str, paths: tuple[str, ...], model: str | None, base_url: str | None,
             local_model: str | None, gap_minutes: float | None, as_json: bool) -> None:
    """Score moments against a day (or days) you labelled: dream each day of
    GOLD with each path, write nothing, and compare with the gold.

    GOLD is JSON: {"moments": [{"start", "end", "title", "kind", "topics",
    "people", "emotions"}, …]} (times ISO 8601; see README "Measuring
    quality"). `rem demo-data` writes one (ground_truth.json).

    \b
    Metrics: segmentation boundary P/R/F1 (±10 min), Pk, WindowDiff; topic,
    people and emotion precision/recall; the share of specific names; type
    accuracy; seconds and tokens per day.

    \b
    rem eval ~/labels/tuesday.json
    rem eval gold.json --path none --path configured --llm llama3.1 --llm-base-url http://127.0.0.1:11434/v1
    """
    from ..evaluate import EvalResult, Oracle, evaluate, evaluate_stored, load, table

    g = load(gold)
    d = cfg.dream_defaults(c.settings.file)
    gap = gap_minutes if gap_minutes is not None else d["gap_minutes"]
    chosen = list(dict.fromkeys(paths or ("none", "configured")))
    results: list[EvalResult] = []

    def note(msg: str) -> None:
        if not as_json:
            click.echo(msg, err=True)

    for path in chosen:
        if path == "none":
            results.append(evaluate(c.store, g, cfg.resolve_llm(model=cfg.NO_MODEL), path="no model", gap_minutes=gap,
                                    progress=note))
        elif path == "stored":
            results.append(evaluate_stored(c.store, g))
        elif path == "configured":
            from ..dream.run import chunk_budget

            s = cfg.resolve_llm(model=model, base_url=base_url, local_model=local_model, file_cfg=c.settings.file)
            results.append(evaluate(c.store, g, s, path=s.model, gap_minutes=gap,
                                    max_input_tokens=chunk_budget(s, None, d["max_input_tokens"]), progress=note))
        else:
            with Oracle() as o:
                s = cfg.resolve_llm(model="oracle", base_url=o.base_url, file_cfg={}, env={})
                results.append(evaluate(c.store, g, s, path="oracle", gap_minutes=gap, oracle=o, progress=note))
    if as_json:
        echo_json({"gold": str(Path(gold)), "results": {r.path: r.metrics() for r in results}}, indent=2)
    else:
        click.echo(f"gold: {gold} ({len(g.moments)} moments over {len(g.days())} days)\n")
        click.echo(table(results))


COMMANDS = (eval_cmd,)
