"""REM for people and agents: rem serve (the web view), rem mcp."""

from __future__ import annotations

import sys

import click

from .common import Ctx, pass_ctx


@click.command("mcp")
@click.option("--http", "http", is_flag=True, help="Serve over HTTP (streamable HTTP at /mcp) instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --http: the address to bind (loopback unless you give a token).")
@click.option("--port", type=click.IntRange(1, 65535), default=8766, show_default=True, help="With --http: the port.")
@click.option("--token", envvar="REM_MCP_TOKEN", help="With --http: a bearer token every request must carry "
                                                      "(required to bind anywhere but loopback; also $REM_MCP_TOKEN).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="With --http: another host name clients may use (repeatable); see README, security.")
@pass_ctx
def mcp_cmd(c: Ctx, http: bool, host: str, port: int, token: str | None, allowed_hosts: tuple[str, ...]) -> None:
    """Serve REM to an agent over the Model Context Protocol (stdio).

    Tools: search, moments, moment, traverse, query (read-only), log_activity,
    dream_status. Add it to an MCP client's configuration, e.g. Claude Desktop's
    claude_desktop_config.json:

    \b
      {"mcpServers": {"rem": {"command": "rem", "args": ["--db", "/home/me/.local/share/rem/rem.duckdb", "mcp"]}}}

    Claude Code: claude mcp add rem -- rem mcp. Needs pip install 'rem[mcp]'.
    """
    import importlib.util

    from ..exceptions import ConfigError
    from ..output import raw_stream

    if importlib.util.find_spec("mcp") is None:
        raise ConfigError("the MCP SDK is not installed: pip install 'rem[mcp]'")
    from ..mcp_tools import serve_http, serve_stdio

    c.store.init()
    if http:
        if host not in ("127.0.0.1", "localhost", "::1") and not token:
            raise ConfigError(f"binding to {host} exposes your history to the network: give --token (or $REM_MCP_TOKEN), "
                              "and every client must send it as 'Authorization: Bearer …'")
        check_token(token, "--token (or $REM_MCP_TOKEN)")
        click.echo(f"rem mcp: http://{host}:{port}/mcp" + (" (token required)" if token else ""), err=True)
        serve_http(c.store, host, port, token, allowed_hosts)
        return
    # the protocol owns stdout: hand it the real stream (the terminal filter is for people)
    sys.stdout = raw_stream(sys.stdout)
    sys.stderr = raw_stream(sys.stderr)
    serve_stdio(c.store)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind (loopback unless you give a token).")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="The port.")
@click.option("--token", envvar="REM_SERVE_TOKEN", help="An access token (required to bind anywhere but loopback; "
                                                        "also $REM_SERVE_TOKEN): open the address with ?token=… once.")
@click.option("--open", "open_browser", is_flag=True, help="Open it in the browser.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Another host name the browser may use (repeatable): a name of this machine, or the name a "
                   "reverse proxy sends. Loopback names always work.")
@pass_ctx
def serve_cmd(c: Ctx, host: str, port: int, token: str | None, open_browser: bool, allowed_hosts: tuple[str, ...]) -> None:
    """A local web view: days as timelines, weeks and months rolled up, each
    moment with its sources and the forms that correct it, search, the graph,
    the runs (and revert). The MCP server is at /mcp. Needs pip install 'rem[serve]'.

    \b
    rem serve --open
    """
    import importlib.util

    from ..exceptions import ConfigError

    missing = [m for m in ("starlette", "jinja2", "uvicorn", "markdown_it") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"rem serve needs {', '.join(missing)}: pip install 'rem[serve]'")
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        raise ConfigError(f"binding to {host} shows your history to the network: give --token (or $REM_SERVE_TOKEN)")
    check_token(token, "--token (or $REM_SERVE_TOKEN)")
    from ..serve import serve

    click.echo(f"rem serve: http://{host}:{port}/" + ("?token=…" if token else "") + "  (Ctrl-C stops it)", err=True)
    serve(c.store, host, port, token, open_browser, allowed_hosts)


MIN_TOKEN = 12


def check_token(token: str | None, name: str) -> None:
    """A token guards your history: at least 12 characters, printable, no spaces."""
    from ..exceptions import ConfigError

    if token is None:
        return
    if len(token) < MIN_TOKEN or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ConfigError(f"{name}: a token must be at least {MIN_TOKEN} printable characters without spaces "
                          "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')")


COMMANDS = (mcp_cmd, serve_cmd)
