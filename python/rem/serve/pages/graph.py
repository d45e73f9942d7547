"""The graph around a topic, person or moment (an SVG by Graphviz), the hot and entangled lists, and the
JSON traversal the page's links use — all from the warm graph."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ... import graph as g
from ...exceptions import RemError
from ..web import Web


def has_dot() -> bool:
    return shutil.which("dot") is not None


def view(web: Web, request: Request) -> Response:
    """The map of the top topics and people (no node given), or a node's neighbourhood: drawn by Graphviz as
    SVG inside the page, every node a link (no script)."""
    node = request.query_params.get("node", "").strip()
    lg = web.st.loaded_graph()
    hot = web.st.ranked("hot", 12)
    entangled = web.st.ranked("entanglement", 12)
    near: list[dict[str, Any]] = []
    message = ""
    picture = ""
    if node:
        try:
            near = g.traverse_loaded(web.store, lg, lg.directory(web.store).resolve(node), depth=1, edge_types=None,
                                     direction="both", min_weight=0.0).to_pylist()
            if near and has_dot():
                picture = draw(g.neighbourhood_dot(web.store, lg, node), "dot")
        except RemError as e:
            message = str(e)
    elif has_dot():
        try:
            picture = draw(web.st.graph_map(), "neato", undirected=True)
        except RemError:
            picture = ""  # nothing dreamed yet: the lists below say so
    return web.page(request, "graph.html", title="REM — graph", node=node, near=near, hot=hot, entangled=entangled,
                    message=message, has_dot=has_dot(), picture=picture)


def draw(dot: str, engine: str, *, undirected: bool = False) -> str:
    """Graphviz's SVG of ``dot`` for a page to hold (the XML prolog and comments left out), "" when it cannot
    draw. Labels are escaped twice: in the DOT (the Rust writer) and in the SVG (Graphviz)."""
    args = ["dot", f"-K{engine}", "-Tsvg"] + (["-Earrowhead=none"] if undirected else [])
    try:
        drawn = subprocess.run(args, input=dot.encode("utf-8"), capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if drawn.returncode != 0:
        return ""
    text = drawn.stdout.decode("utf-8", "replace")
    at = text.find("<svg")
    return re.sub(r"<!--.*?-->", "", text[at:], flags=re.S) if at >= 0 else ""


def traverse(web: Web, request: Request) -> Response:
    """JSON: the nodes reached from ``node`` (an entity name or an id) within ``depth`` hops, from the warm graph."""
    node = request.query_params.get("node", "").strip()
    try:
        depth = max(1, min(int(request.query_params.get("depth", "2")), 4))
        lg = web.st.loaded_graph()
        rows = g.traverse_loaded_rows(web.store, lg, lg.directory(web.store).resolve(node), depth=depth, edge_types=None,
                                      direction="both", min_weight=0.0)
    except (RemError, ValueError) as e:
        return JSONResponse({"error": str(e)}, status_code=404)
    return JSONResponse(rows[:1000])


def svg(web: Web, request: Request) -> Response:
    node = request.query_params.get("node", "").strip()
    try:
        dot = g.neighbourhood_dot(web.store, web.st.loaded_graph(), node)
    except RemError as e:
        return PlainTextResponse(str(e), status_code=404)
    if not has_dot():
        return PlainTextResponse("Graphviz (dot) is not installed: apt-get install graphviz", status_code=501)
    drawn = subprocess.run(["dot", "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, timeout=30)
    if drawn.returncode != 0:
        return PlainTextResponse("Graphviz could not draw this graph", status_code=500)
    return Response(drawn.stdout, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
