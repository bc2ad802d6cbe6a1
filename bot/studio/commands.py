"""`temanjiwa poster` and `temanjiwa studio`: what the two commands do, behind bot/cli.py."""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import webbrowser
from pathlib import Path

from bot.config import Config, load_config
from bot.studio.app import LOCAL_NAMES, StudioSettings, create_studio_app
from bot.studio.poster import PosterError, build_poster
from bot.web import bound_port, serve
from flows.i18n import _
from flows.linter import load_content

FORMATS = (".pdf", ".png", ".svg")


def _settings(args: argparse.Namespace, config: Config) -> StudioSettings:
    return StudioSettings(
        telegram_username=args.telegram_username or config.posters.telegram_username,
        whatsapp_number=args.whatsapp_number or config.posters.whatsapp_number,
        hotline_texts=dict(config.hotlines),
    )


def poster_command(args: argparse.Namespace, content_dir: Path) -> int:
    """Write the poster to --out (its suffix picks PDF, PNG or SVG; PDF and SVG also get
    the PNG beside them, for sharing in a chat)."""
    out: Path = args.out
    if out.suffix.lower() not in FORMATS:
        print(_("--out must end in .pdf, .png or .svg."), file=sys.stderr)
        return 2
    config = load_config(args.config)
    settings = _settings(args, config)
    content = load_content(content_dir)
    try:
        poster = build_poster(content, args.flow, args.channel,
                              telegram=settings.telegram_username,
                              whatsapp=settings.whatsapp_number,
                              hotline_texts=settings.hotline_texts)
    except PosterError as exc:
        print(exc, file=sys.stderr)
        return 2
    suffix = out.suffix.lower()
    written = [out]
    if suffix == ".svg":
        out.write_text(poster.svg(), encoding="utf-8")
    elif suffix == ".pdf":
        out.write_bytes(poster.pdf())
    else:
        out.write_bytes(poster.png())
    if suffix != ".png":
        png = out.with_suffix(".png")
        png.write_bytes(poster.png())
        written.append(png)
    print(_("Poster for '{flow}' ({channel}): {files}\nThe QR code opens {link}").format(
        flow=args.flow, channel=args.channel, files=", ".join(str(p) for p in written),
        link=poster.link))
    return 0


def studio_command(args: argparse.Namespace, content_dir: Path) -> int:
    """Serve the studio for `content_dir` until Ctrl+C; print the address, open a browser."""
    config = load_config(args.config)
    allowed = LOCAL_NAMES | {args.host}
    app = create_studio_app(Path(content_dir), _settings(args, config), config=config,
                            allowed_hosts=allowed)
    return asyncio.run(_serve(app, args.host, args.port, open_browser=not args.no_browser))


async def _serve(app, host: str, port: int, *, open_browser: bool) -> int:
    started = asyncio.Event()
    servers: list = []
    task = asyncio.create_task(serve(app, host, port, started=started, server_holder=servers,
                                     log_level="warning"))
    await asyncio.wait([task, asyncio.create_task(started.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    if started.is_set():
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{bound_port(servers[0])}/"
        print(_("Teman Jiwa studio: {url} (Ctrl+C to stop)").format(url=url), flush=True)
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    await task
    return 0
