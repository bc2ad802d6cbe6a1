"""The `temanjiwa` command: run, chat, lint, test, crisis-check and operator tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.app import build_runtime, default_content_dir, default_db_path
from bot.config import ConfigError, load_config
from flows.i18n import _
from flows.problems import ContentError

log = logging.getLogger("temanjiwa")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines carry bot tokens


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="deployment config YAML (or TEMANJIWA_CONFIG)")
    parser.add_argument("--db", type=Path, help=f"SQLite file (default: {default_db_path()})")
    parser.add_argument("--content", type=Path, help="content folder (default: content/id)")
    parser.add_argument("-v", "--verbose", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="temanjiwa", description="Teman Jiwa chatbot")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the configured channels (console if none)")
    _common(run)

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    _common(chat)
    chat.add_argument("--jsonl", action="store_true", help="machine protocol on stdin/stdout")
    chat.add_argument("--user-id", default="console", help="who you are (default: console)")

    lint = sub.add_parser("lint", help="check the content folder")
    lint.add_argument("dir", nargs="?", type=Path, default=None)

    test = sub.add_parser("test", help="run the conversation tests of a content folder")
    test.add_argument("dir", nargs="?", type=Path, default=None)
    test.add_argument("-k", dest="pattern", help="only tests whose name contains this")

    sub.add_parser("crisis-check", help="check messages on stdin for crisis signs (JSON lines)")
    return parser


async def _chat(args: argparse.Namespace) -> int:
    from bot.console import ConsoleChat

    config = load_config(args.config)
    runtime = await build_runtime(config, content_dir=args.content, db_path=args.db)
    try:
        chat = ConsoleChat(runtime.conversations, args.user_id)
        if args.jsonl:
            return await chat.run_jsonl()
        return await chat.run_interactive()
    finally:
        await runtime.close()


async def _run(args: argparse.Namespace) -> int:
    telegram = os.environ.get("TELEGRAM_BOT_TOKEN")
    whatsapp = os.environ.get("WHATSAPP_ACCESS_TOKEN")
    if not telegram and not whatsapp:
        if sys.stdin.isatty():
            log.info("no TELEGRAM_BOT_TOKEN or WHATSAPP_ACCESS_TOKEN set: starting console chat")
            args.jsonl, args.user_id = False, "console"
            return await _chat(args)
        print(_("No channel is configured. Set TELEGRAM_BOT_TOKEN (Telegram) and/or "
                "WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN and "
                "WHATSAPP_PHONE_NUMBER_ID (WhatsApp), or run 'temanjiwa chat' in a terminal."),
              file=sys.stderr)
        return 2
    print(_("Channel support is not installed in this build."), file=sys.stderr)
    return 2


def _lint(args: argparse.Namespace) -> int:
    from flows.linter import lint_directory

    directory = args.dir or default_content_dir()
    problems = lint_directory(directory)
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if errors:
        print(_("{errors} error(s), {warnings} warning(s) in {dir}. The bot will keep serving the "
                "last good content until they are fixed.").format(
                    errors=errors, warnings=warnings, dir=directory))
        return 1
    print(_("OK: {dir} has no errors ({warnings} warning(s)).").format(
        dir=directory, warnings=warnings))
    return 0


def _test(args: argparse.Namespace) -> int:
    from flows.convtest import run_directory

    directory = args.dir or default_content_dir()
    return asyncio.run(run_directory(directory, pattern=args.pattern, out=sys.stdout))


def _crisis_check(_args: argparse.Namespace) -> int:
    from flows.crisis_check import main as crisis_main

    return crisis_main([])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    try:
        if args.command == "chat":
            return asyncio.run(_chat(args))
        if args.command == "run":
            return asyncio.run(_run(args))
        if args.command == "lint":
            return _lint(args)
        if args.command == "test":
            return _test(args)
        if args.command == "crisis-check":
            return _crisis_check(args)
    except ConfigError as exc:
        print(_("Configuration error: {err}").format(err=exc), file=sys.stderr)
        return 2
    except ContentError as exc:
        print(_("The content has errors and there is no last good copy to serve:"),
              file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
