"""`rem serve`: a local web view of what REM remembers, where it can be corrected.

:mod:`.app` builds the Starlette app (its security guard, the MCP mount); :mod:`.routes` is the one
routes table; :mod:`.pages` holds one module per page family; :mod:`.web` the request helpers they share;
:mod:`.timeline` lays out the day, week and month pictures. See :mod:`.app` for the security rules.
"""

from __future__ import annotations

from .app import create_app, serve

__all__ = ["create_app", "serve"]
