"""`temanjiwa studio`: the editors' local page for one content folder.

A Starlette app for 127.0.0.1. Requests whose Host is not this machine's own name, or
whose Origin is another site, are refused (a web page elsewhere cannot reach it through
DNS rebinding), and a POST must say it comes from this page (its Origin). Nothing but the
content folder is read: pages name a flow by its id, never by a path, and the static
files ship in the package; the simulator writes only to its temporary database.

Pages: the flow list, the flow map (click a node: its text and file:line), the posters,
the simulator (bot/studio/simulator.py) and the conversation tests. All share
`app.state.watch` (the folder, reloaded on change); every page polls /api/problems, so a
saved mistake shows within a second and goes when fixed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import Config
from bot.studio.convtests import run_tests_in_thread
from bot.studio.flowmap import render_flow_map
from bot.studio.pages import (
    flow_list_page,
    flow_page,
    message_page,
    node_details,
    problem_json,
    simulator_page,
    tests_page,
)
from bot.studio.poster import PosterError, build_poster
from bot.studio.simulator import VIEWS, NoGoodContent, Simulator, View, content_status
from bot.studio.watch import ContentWatch, Snapshot
from flows.graph import FlowGraph, build_graph
from flows.i18n import _

STATIC = Path(__file__).parent / "static"
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
POSTER_TYPES = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}
SAFE_METHODS = frozenset({"GET", "HEAD"})
FLOW_ID = re.compile(r"^[a-z0-9_]{1,64}$")
MAX_BODY = 64_000  # bytes of a POST: a message, a button, a flow name


@dataclass(frozen=True)
class StudioSettings:
    """What the studio needs besides the folder: the bot's public names for posters."""

    telegram_username: str | None = None
    whatsapp_number: str | None = None
    hotline_texts: dict[str, str] | None = None


class LocalOnly:
    """ASGI middleware: 403 unless Host names this machine and any Origin is this page;
    a POST (or any other changing method) must carry this page's Origin."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] = LOCAL_NAMES):
        self.app = app
        self.allowed = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "")
            origin = headers.get("origin")
            changing = scope["type"] == "http" and scope["method"] not in SAFE_METHODS
            if _host_name(host) not in self.allowed or (
                    origin is not None and origin != f"http://{host}") or (
                    changing and origin is None):
                response = PlainTextResponse("forbidden: this page only answers itself",
                                             status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class BadRequest(Exception):
    """A POST body the page would never send."""


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadRequest("too large")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise BadRequest("not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("not an object")
    return data


def _view(data: dict[str, Any]) -> View:
    view = data.get("view", "telegram")
    if view not in VIEWS:
        raise BadRequest("view must be telegram or whatsapp")
    return view  # type: ignore[no-any-return]


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{key} must be a text")
    return value


def create_studio_app(directory: Path, settings: StudioSettings | None = None, *,
                      config: Config | None = None,
                      allowed_hosts: frozenset[str] = LOCAL_NAMES,
                      extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The studio for the content folder `directory`; `config` (the deployment's areas,
    routes and hotlines) shapes the simulated bot, never its database."""
    settings = settings or StudioSettings()
    watch = ContentWatch(directory)
    simulator = Simulator(watch, config or Config())
    shown_dir = str(directory)

    async def current() -> Snapshot:
        return await asyncio.to_thread(watch.current)  # a re-read takes ~0.5 s: not here

    def graph_or_none(snapshot: Snapshot, flow_id: str) -> FlowGraph | None:
        if snapshot.content is None or flow_id not in snapshot.content.flows:
            return None
        return build_graph(snapshot.content, flow_id)

    def not_found(flow_id: str) -> Response:
        return HTMLResponse(message_page(_("No such flow"), _(
            "There is no flow '{flow}' in this folder.").format(flow=flow_id)), status_code=404)

    async def flows(request: Request) -> Response:
        return HTMLResponse(flow_list_page(await current(), shown_dir))

    async def flow(request: Request) -> Response:
        snapshot = await current()
        flow_id = request.path_params["flow"]
        graph = graph_or_none(snapshot, flow_id)
        if graph is None:
            return not_found(flow_id)
        channels = tuple(c for c, known in (("telegram", settings.telegram_username),
                                            ("whatsapp", settings.whatsapp_number)) if known)
        return HTMLResponse(flow_page(snapshot, shown_dir, graph, channels))

    async def flow_map(request: Request) -> Response:
        graph = graph_or_none(await current(), request.path_params["flow"])
        if graph is None:
            return not_found(request.path_params["flow"])
        return Response(render_flow_map(graph), media_type="image/svg+xml")

    async def flow_json(request: Request) -> Response:
        graph = graph_or_none(await current(), request.path_params["flow"])
        if graph is None:
            return JSONResponse({"error": "no such flow"}, status_code=404)
        return JSONResponse({"flow": graph.flow, "title": graph.title,
                             "nodes": node_details(graph, shown_dir)})

    async def problems(request: Request) -> Response:
        snapshot = await current()
        return JSONResponse({"version": snapshot.version,
                             "problems": [problem_json(p, shown_dir) for p in snapshot.problems],
                             "errors": len(snapshot.errors),
                             "content": content_status(snapshot)})

    async def simulator_view(request: Request) -> Response:
        return HTMLResponse(simulator_page(await current(), shown_dir))

    async def simulator_state(request: Request) -> Response:
        return JSONResponse(await simulator.state())

    async def simulator_action(request: Request) -> Response:
        action = request.path_params["action"]
        try:
            data = await _json_body(request)
            view = _view(data)
            if action == "restart":
                flow = data.get("flow") or None
                if flow is not None and (not isinstance(flow, str) or not FLOW_ID.match(flow)):
                    raise BadRequest("flow must be a flow id")
                return JSONResponse(await simulator.restart(view, flow))
            if action == "send":
                return JSONResponse(await simulator.send_text(view, _text(data, "text")))
            if action == "press":
                return JSONResponse(await simulator.press(view, _text(data, "data")))
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except NoGoodContent:
            state = await simulator.state()
            return JSONResponse({**state, "error": state["content"]["message"]},
                                status_code=409)
        return JSONResponse({"error": "no such action"}, status_code=404)

    async def tests_view(request: Request) -> Response:
        return HTMLResponse(tests_page(await current(), shown_dir))

    async def run_tests(request: Request) -> Response:
        return JSONResponse(await run_tests_in_thread(watch.directory))

    async def poster(request: Request) -> Response:
        snapshot = await current()
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
        Route("/simulator", simulator_view, methods=["GET"]),
        Route("/api/simulator", simulator_state, methods=["GET"]),
        Route("/api/simulator/{action}", simulator_action, methods=["POST"]),
        Route("/tests", tests_view, methods=["GET"]),
        Route("/api/tests/run", run_tests, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *extra_routes,
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await simulator.close()  # the temporary database goes with the studio

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(LocalOnly, allowed_hosts=allowed_hosts)
    app.state.watch = watch
    app.state.settings = settings
    app.state.simulator = simulator
    return app
