"""Getting activity in and asking about it: init, config, ingest, query, demo-data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import config as cfg
from ..exceptions import QueryError, RemError
from ..output import TABLE_ROWS, echo_json, echo_stream, output_options
from .common import UTF8, Ctx, json_option, llm_options, pass_ctx


@click.command()
@click.option("--adopt", is_flag=True, help="Add REM's tables to a DuckDB file another application made "
                                            "(refused without this flag; its own tables are left as they are).")
@pass_ctx
def init(c: Ctx, adopt: bool) -> None:
    """Create the database file and its tables (idempotent)."""
    from ..store import Store

    created = Store(c.store.path, adopt=adopt).init()
    click.echo(f"{'created' if created else 'exists:'} {c.store.path}")


@click.command("config")
@json_option
@llm_options
@pass_ctx
def config_cmd(c: Ctx, as_json: bool, model: str | None, base_url: str | None, local_model: str | None) -> None:
    """Show the effective settings and where each comes from (keys masked).

    Precedence: command-line flag > environment (REM_LLM_MODEL, REM_LLM_BASE_URL,
    OPENAI_API_KEY, REM_LLM_MODE, REM_LOCAL_MODEL) > config file > embedded default.
    """
    s = cfg.resolve_llm(model=model, base_url=base_url, local_model=local_model, file_cfg=c.settings.file)
    info: dict[str, Any] = {
        "database": str(c.store.path),
        "config_file": str(cfg.config_path()) + ("" if cfg.config_path().exists() else " (absent)"),
        "llm": s.public(),
        "llm_sources": s.sources,
        "dream": cfg.dream_defaults(c.settings.file),
    }
    if as_json:
        echo_json(info, indent=2)
        return
    click.echo(f"database     {info['database']}")
    click.echo(f"config file  {info['config_file']}")
    for k, v in s.public().items():
        src = s.sources.get(k)
        click.echo(f"llm.{k:<18} {v}" + (f"   [{src}]" if src else ""))
    for k, v in info["dream"].items():
        click.echo(f"dream.{k:<16} {v}")


# -- ingest -------------------------------------------------------------------
@click.group()
def ingest() -> None:
    """Load activity: JSONL records, notes, git history, chat exports, meeting transcripts.

    Every source is idempotent (ingesting the same thing twice adds nothing; a
    changed item updates its row) and transactional per input (a malformed
    input writes nothing and the error names the file, line and field).
    """


def index_for_search(store: Any) -> None:
    """Bring the search index up to date after a write (best effort: a
    failure is logged, the next search catches up)."""
    from ..search import index as search_index
    from ..search.embed import configured

    try:
        emb = configured(store.settings.file)
    except RemError as e:
        click.echo(f"search index not updated: {e}", err=True)
        return
    search_index.try_sync(store, emb)


def _report(rep: Any, store: Any = None) -> None:
    if store is not None and (rep.added or rep.updated or getattr(rep, "removed", 0)):
        index_for_search(store)
    for e in rep.errors:
        click.echo(f"refused: {e}", err=True)
    for e in rep.passed_over:
        click.echo(f"passed over: {e}", err=True)
    click.echo(rep.line())
    if rep.errors:
        sys.exit(1)


@ingest.command("jsonl")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(["resources", "sessions", "messages"]), required=True,
              help="Which table the records are for (fields as in schema/core/<kind>.json).")
@pass_ctx
def ingest_jsonl_cmd(c: Ctx, file: str, kind: str) -> None:
    """Records from a JSONL file (or a JSON array), validated against the schema."""
    from ..ingest import ingest_jsonl

    _report(ingest_jsonl(c.store, file, kind), c.store)


@ingest.command("notes")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@pass_ctx
def ingest_notes_cmd(c: Ctx, directory: str) -> None:
    """A folder of Markdown/text notes (time from front matter, else mtime)."""
    from ..ingest import ingest_notes

    _report(ingest_notes(c.store, directory), c.store)


@ingest.command("git")
@click.argument("path", type=click.Path(exists=True))
@click.option("--since", help="Only commits after this date (git's --since syntax).")
@click.option("--until", help="Only commits before this date.")
@click.option("--max-count", type=click.IntRange(min=0), help="At most this many commits.")
@click.option("--rev", default="HEAD", show_default=True, help="Revision to walk.")
@click.option("--all", "all_refs", is_flag=True, help="Walk every ref instead of --rev.")
@pass_ctx
def ingest_git_cmd(c: Ctx, path: str, since: str | None, until: str | None, max_count: int | None,
                   rev: str, all_refs: bool) -> None:
    """One `commit` resource per commit of a repository (bare ones too);
    authors become people."""
    from ..ingest import ingest_git

    _report(ingest_git(c.store, path, since=since, until=until, max_count=max_count, rev=rev, all_refs=all_refs), c.store)


@ingest.command("chatgpt")
@click.argument("file", type=click.Path(exists=True))
@pass_ctx
def ingest_chatgpt_cmd(c: Ctx, file: str) -> None:
    """A ChatGPT data export (conversations.json, or the folder holding it)."""
    from ..ingest import ingest_chatgpt

    _report(ingest_chatgpt(c.store, file), c.store)


@ingest.command("chat")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def ingest_chat_cmd(c: Ctx, file: str) -> None:
    """The plain chat format: JSONL, one message per line.

    \b
    {"session": "standup", "role": "user", "content": "…", "created_at": "2026-11-16T09:30:00Z"}
    Optional: session_name, speaker (who said it, in a group chat), id, tool_calls, trace_id, span_id.
    """
    from ..ingest import ingest_chat

    _report(ingest_chat(c.store, file), c.store)


@ingest.command("claude-code")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@pass_ctx
def ingest_claude_code_cmd(c: Ctx, directory: str | None) -> None:
    """Claude Code sessions (default ~/.claude/projects): a session per agent
    session (project, working directory and git branch in its metadata), user
    and assistant messages, tool calls and results as `tool` messages. Run it
    again: only what is new is added."""
    from ..ingest.agents import ingest_claude_code

    _report(ingest_claude_code(c.store, directory), c.store)


@ingest.command("codex")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@pass_ctx
def ingest_codex_cmd(c: Ctx, directory: str | None) -> None:
    """OpenAI Codex CLI sessions (default ~/.codex/sessions): as for claude-code."""
    from ..ingest.agents import ingest_codex

    _report(ingest_codex(c.store, directory), c.store)


@ingest.command("whatsapp")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--date-order", type=click.Choice(["dmy", "mdy", "ymd"]),
              help="How the export writes dates, when its own dates do not say (default: day first).")
@pass_ctx
def ingest_whatsapp_cmd(c: Ctx, files: tuple[str, ...], date_order: str | None) -> None:
    """WhatsApp chat exports (the .txt, or the .zip holding it): one session
    per chat, a message per message with who wrote it; speakers become people.

    \b
    rem ingest whatsapp "WhatsApp Chat with Nadia.zip"
    rem ingest whatsapp _chat.txt --date-order mdy
    """
    from ..exceptions import IngestError
    from ..ingest import IngestReport
    from ..ingest.whatsapp import ingest_whatsapp

    total = IngestReport()
    for f in files:
        try:
            rep = ingest_whatsapp(c.store, f, date_order=date_order)
        except IngestError as e:
            total.errors.append(str(e))
            continue
        for name, counts in rep.per_table.items():
            total.add(name, counts)
        total.errors += rep.errors
        for k, v in rep.skipped_records.items():
            total.skipped_records[k] = total.skipped_records.get(k, 0) + v
    _report(total, c.store)


@ingest.command("transcript")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--start", help="When the meeting began (ISO 8601; default: a date and time in the file's name, else the "
                              "file's modification time minus the transcript's length).")
@pass_ctx
def ingest_transcript_cmd(c: Ctx, files: tuple[str, ...], start: str | None) -> None:
    """Meeting transcripts (Zoom, Teams, Meet, Otter, Whisper): WebVTT, SRT or
    plain `Name: text` lines. Each file is one session (a meeting), one
    message per turn with its speaker; speakers become people.

    \b
    rem ingest transcript "2026-11-16 09-30 standup.vtt"
    rem ingest transcript call.srt --start 2026-11-16T14:00:00+01:00
    """
    from ..exceptions import IngestError
    from ..ingest import IngestReport
    from ..ingest.transcript import ingest_transcript

    total = IngestReport()
    for f in files:
        try:
            ingest_transcript(c.store, f, start=start, report=total)
        except IngestError as e:
            total.errors.append(str(e))
    _report(total, c.store)


@ingest.command("slack")
@click.argument("path", type=click.Path(exists=True))
@pass_ctx
def ingest_slack_cmd(c: Ctx, path: str) -> None:
    """A Slack workspace export (its folder or .zip): a session per channel,
    messages with who said them; speakers become people."""
    from ..ingest import ingest_slack

    _report(ingest_slack(c.store, path), c.store)


# -- query ----------------------------------------------------------------------
@click.command()
@click.argument("sql", type=UTF8)
@output_options
@click.option("--max-rows", type=click.IntRange(min=0),
              help=f"Stop after this many rows (0 = all). Default: {TABLE_ROWS:,} for --table, all for the data "
                   "formats, which stream (memory stays flat).")
@pass_ctx
def query(c: Ctx, sql: str, fmt: str | None, max_rows: int | None) -> None:
    """Run read-only SQL against the database ("-" reads SQL from stdin).

    The connection is read-only and sandboxed: no writes, no COPY … TO, ATTACH,
    INSTALL/LOAD, file readers or configuration changes. rem_decay(weight,
    reinforced_at, edge_type) gives an edge's decayed weight.

    \b
    rem query "SELECT * FROM moments WHERE 'diskann' = ANY(tags)"
    rem query "SELECT * FROM messages" --nl > messages.jsonl
    """
    import duckdb

    from ..output import Result
    from ..store import stream_rows

    if sql == "-":
        sql = sys.stdin.read()
    if not sql.strip():
        raise QueryError("the SQL is empty: give a statement, e.g. rem query \"select count(*) from moments\"")
    with c.store.read() as con:
        try:
            cur = stream_rows(con, sql)  # plain rows: pyarrow is not loaded for a query
            if cur is None:
                click.echo("(no result)")
                return
            echo_stream(Result.of_cursor(cur), fmt, max_rows)
        except duckdb.Error as e:
            msg = str(e)
            if "read-only mode" in msg:
                raise QueryError(
                    f"rem query is read-only: {msg}\nNothing was changed. Use `rem ingest …` to add data."
                ) from e
            raise QueryError(msg) from e


# -- demo -------------------------------------------------------------------------
@click.command("demo-data")
@click.option("--out", type=click.Path(file_okay=False), help="Where to write the source files (default: a folder beside the database).")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same week).")
@click.option("--days", type=click.IntRange(1, 60), default=7, show_default=True, help="Days of activity.")
@click.option("--end", "end_date", help="Last day of the week (YYYY-MM-DD; default yesterday).")
@click.option("--hard-days", is_flag=True, help="Also six harder days before them: a topic switch without a gap, two "
                                                "projects interleaved, a long meeting, a group chat, commits only, "
                                                "names in other scripts.")
@click.option("--no-ingest", is_flag=True, help="Only write the files.")
@pass_ctx
def demo_data(c: Ctx, out: str | None, seed: int, days: int, end_date: str | None, hard_days: bool,
              no_ingest: bool) -> None:
    """Write and ingest a realistic, seeded week of activity: notes, a git
    repository, chat sessions with tool calls, a ChatGPT export and documents,
    with the ground truth of every work block (ground_truth.json, the gold
    format `rem eval` reads)."""
    from ..demo import generate
    from ..ingest import ingest_demo

    folder = Path(out) if out else c.store.path.parent / "rem-demo"
    info = generate(folder, seed=seed, days=days, end_date=end_date, hard_days=hard_days)
    click.echo(f"wrote demo activity to {folder} ({info['blocks']} work blocks over {days + 6 * hard_days} days, "
               f"{info['messages']} messages, {info['commits']} commits, {info['notes']} notes)")
    if not no_ingest:
        for line in ingest_demo(c.store, folder):
            click.echo(line)
        index_for_search(c.store)


# -- export and import ----------------------------------------------------------
@click.group("export")
def export() -> None:
    """Take the memory out: every table as Parquet, moments as JSON lines, an Obsidian vault.

    Written by REM to the folder you name (`rem query` is sandboxed and cannot
    write files); each file under a temporary name, renamed when whole.
    """


@export.command("parquet")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--table", "tables", multiple=True, help="Only this table (repeatable; default every table but the "
                                                        "search index, which is rebuilt from the others).")
@pass_ctx
def export_parquet_cmd(c: Ctx, folder: str, tables: tuple[str, ...]) -> None:
    """Every table as FOLDER/<table>.parquet (zstd), for an analyst's tools or `rem import`.

    \b
    rem export parquet ~/rem-export
    rem export parquet ~/rem-export --table moments --table edges
    """
    from ..export import export_parquet

    click.echo(export_parquet(c.store, folder, tables).line())


@export.command("markdown")
@click.argument("folder", type=click.Path(file_okay=False))
@pass_ctx
def export_markdown_cmd(c: Ctx, folder: str) -> None:
    """An Obsidian-compatible vault: days/YYYY-MM-DD.md with the day's moments
    (time, name, fields, events; people and topics as [[links]]), a note per
    person and per topic listing their moments (backlinks then work), YAML
    front matter with ids, times and types. Run it again to update: REM's
    notes change in place; a file you wrote or edited there is never touched.

    \b
    rem export markdown ~/vault/REM
    """
    from ..export import export_markdown

    click.echo(export_markdown(c.store, folder).line())


@export.command("json")
@click.argument("path", type=click.Path())
@pass_ctx
def export_json_cmd(c: Ctx, path: str) -> None:
    """Moments as JSON lines (PATH, or PATH/moments.jsonl for a folder): their fields, their events, and their
    sources (resources, sessions and messages with their text)."""
    from ..export import export_json

    click.echo(export_json(c.store, path).line())


@click.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@pass_ctx
def import_cmd(c: Ctx, folder: str) -> None:
    """REM's own Parquet export (`rem export parquet`) into an empty database,
    losing nothing: ids, times, lists, JSON, edges and their weights.

    \b
    rem --db restored.duckdb import ~/rem-export
    """
    from ..export import import_parquet

    rep = import_parquet(c.store, folder)
    index_for_search(c.store)
    click.echo(rep.line().replace("written to", "read from"))


COMMANDS = (init, config_cmd, ingest, query, demo_data, export, import_cmd)
