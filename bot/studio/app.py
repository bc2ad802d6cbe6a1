"""`temanjiwa studio`: the editors' local page for one content folder.

A Starlette app for 127.0.0.1. Requests whose Host is not this machine's own name, or
whose Origin is another site, are refused (a web page elsewhere cannot reach it through
DNS rebinding). Nothing but the content folder is read: pages name a flow by its id,
never by a path, and the static files ship in the package.

Phase one serves the flow list, the flow map (click a node: its text and file:line) and
the posters. `extra_routes` is where the simulator, live problems and the conversation
test runner are added; they share `app.state.watch` (the folder, reloaded on change).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.studio.flowmap import render_flow_map
from bot.studio.pages import flow_list_page, flow_page, message_page, node_details
from bot.studio.poster import PosterError, build_poster
from bot.studio.watch import ContentWatch, Snapshot
from flows.graph import FlowGraph, build_graph
from flows.i18n import _

STATIC = Path(__file__).parent / "static"
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
POSTER_TYPES = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}


@dataclass(frozen=True)
class StudioSettings:
    """What the studio needs besides the folder: the bot's public names for posters."""

    telegram_username: str | None = None
    whatsapp_number: str | None = None
    hotline_texts: dict[str, str] | None = None


class LocalOnly:
    """ASGI middleware: 403 unless Host names this machine and any Origin is this page."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] = LOCAL_NAMES):
        self.app = app
        self.allowed = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "")
            origin = headers.get("origin")
            if _host_name(host) not in self.allowed or (
                    origin is not None and origin != f"http://{host}"):
                response = PlainTextResponse("forbidden: this page only answers itself",
                                             status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def create_studio_app(directory: Path, settings: StudioSettings | None = None, *,
                      allowed_hosts: frozenset[str] = LOCAL_NAMES,
                      extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The studio for the content folder `directory`."""
    settings = settings or StudioSettings()
    watch = ContentWatch(directory)
    shown_dir = str(directory)

    def graph_or_none(snapshot: Snapshot, flow_id: str) -> FlowGraph | None:
        if snapshot.content is None or flow_id not in snapshot.content.flows:
            return None
        return build_graph(snapshot.content, flow_id)

    def not_found(flow_id: str) -> Response:
        return HTMLResponse(message_page(_("No such flow"), _(
            "There is no flow '{flow}' in this folder.").format(flow=flow_id)), status_code=404)

    async def flows(request: Request) -> Response:
        return HTMLResponse(flow_list_page(watch.current(), shown_dir))

    async def flow(request: Request) -> Response:
        snapshot = watch.current()
        flow_id = request.path_params["flow"]
        graph = graph_or_none(snapshot, flow_id)
        if graph is None:
            return not_found(flow_id)
        channels = tuple(c for c, known in (("telegram", settings.telegram_username),
                                            ("whatsapp", settings.whatsapp_number)) if known)
        return HTMLResponse(flow_page(snapshot, shown_dir, graph, channels))

    async def flow_map(request: Request) -> Response:
        graph = graph_or_none(watch.current(), request.path_params["flow"])
        if graph is None:
            return not_found(request.path_params["flow"])
        return Response(render_flow_map(graph), media_type="image/svg+xml")

    async def flow_json(request: Request) -> Response:
        graph = graph_or_none(watch.current(), request.path_params["flow"])
        if graph is None:
            return JSONResponse({"error": "no such flow"}, status_code=404)
        return JSONResponse({"flow": graph.flow, "title": graph.title,
                             "nodes": node_details(graph, shown_dir)})

    async def problems(request: Request) -> Response:
        snapshot = watch.current()
        return JSONResponse({"version": snapshot.version, "problems": [
            {"file": p.file, "line": p.line, "message": p.message, "hint": p.hint,
             "severity": p.severity} for p in snapshot.problems]})

    async def poster(request: Request) -> Response:
        snapshot = watch.current()
        flow_id, kind = request.path_params["flow"], request.path_params["kind"]
        channel = request.query_params.get("channel", "telegram")
        if snapshot.content is None or kind not in POSTER_TYPES:
            return not_found(flow_id)
        try:
            made = build_poster(snapshot.content, flow_id, channel,  # type: ignore[arg-type]
                                telegram=settings.telegram_username,
                                whatsapp=settings.whatsapp_number,
                                hotline_texts=settings.hotline_texts)
        except PosterError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        body = made.svg().encode() if kind == "svg" else made.png() if kind == "png" \
            else made.pdf()
        name = f"poster-{flow_id}-{channel}.{kind}"
        return Response(body, media_type=POSTER_TYPES[kind],
                        headers={"Content-Disposition": f'inline; filename="{name}"'})

    routes: list[BaseRoute] = [
        Route("/", flows, methods=["GET"]),
        Route("/flows/{flow}", flow, methods=["GET"]),
        Route("/flows/{flow}/map.svg", flow_map, methods=["GET"]),
        Route("/flows/{flow}/poster.{kind}", poster, methods=["GET"]),
        Route("/api/flows/{flow}", flow_json, methods=["GET"]),
        Route("/api/problems", problems, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *extra_routes,
    ]
    app = Starlette(routes=routes)
    app.add_middleware(LocalOnly, allowed_hosts=allowed_hosts)
    app.state.watch = watch
    app.state.settings = settings
    return app
