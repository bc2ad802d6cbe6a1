"""The `temanjiwa` command: run, chat, lint, test, crisis-check and operator tools."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from bot import log_privacy
from bot.app import build_console, build_runtime
from bot.cases.cards import OUTCOME_LABELS, format_time
from bot.cases.desk import CadreIdentity
from bot.cases.senders import ConsoleAlertSender
from bot.config import (
    ConfigError,
    choose_database,
    default_content_dir,
    default_db_path,
    load_config,
)
from bot.reports.command import report_command
from bot.serve import RunOptions, run
from bot.studio.commands import poster_command, studio_command
from bot.workers.inbox import LEASE_S, MIN_LEASE_S
from flows.convtest import run_directory
from flows.crisis.command import main as crisis_main
from flows.i18n import _
from flows.linter import lint_directory
from flows.problems import ContentError
from storage import database_target, is_postgres_url, open_store
from storage.backup import BackupError, backup_sqlite
from storage.retention import purge

log = logging.getLogger("temanjiwa")


def _setup_logging(verbose: bool = False) -> None:
    """stderr logging; at every level the privacy filter strips the libraries' arguments
    and exception messages (bot/log_privacy.py), so `-v` shows no ids, names or texts."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log_privacy.install(handler)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines carry bot tokens
    logging.getLogger("aiosqlite").setLevel(logging.INFO)  # DEBUG: SQL parameters (answers)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="deployment config YAML (or TEMANJIWA_CONFIG)")
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (default: "
                        f"TEMANJIWA_DATABASE_URL, else {default_db_path()})")
    parser.add_argument("--content", type=Path, help="content folder (default: content/id)")
    parser.add_argument("-v", "--verbose", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="temanjiwa", description="Teman Jiwa chatbot")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the configured channels (console if none)")
    _common(run)
    run.add_argument("--webhook-url", default=os.environ.get("TELEGRAM_WEBHOOK_URL"),
                     help="public https URL for Telegram webhook mode (default: long polling)")
    run.add_argument("--host", default=os.environ.get("TEMANJIWA_HOST", "0.0.0.0"),
                     help="web app address for webhooks and /healthz")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    run.add_argument("--inbox-lease", type=float,
                     default=float(os.environ.get("TEMANJIWA_INBOX_LEASE", LEASE_S)),
                     help="seconds another worker waits before it serves the residents of a "
                     f"worker that stopped answering (default {LEASE_S:g}; "
                     "TEMANJIWA_INBOX_LEASE)")

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    _common(chat)
    chat.add_argument("--jsonl", action="store_true", help="machine protocol on stdin/stdout")
    chat.add_argument("--user-id", default="console", help="who you are (default: console)")

    lint = sub.add_parser("lint", help="check the content folder")
    lint.add_argument("dir", nargs="?", type=Path, default=None)

    test = sub.add_parser("test", help="run the conversation tests of a content folder")
    test.add_argument("dir", nargs="?", type=Path, default=None)
    test.add_argument("-k", dest="pattern", help="only tests whose name contains this")

    crisis = sub.add_parser("crisis-check",
                            help="check messages on stdin for crisis signs (JSON lines)")
    crisis.add_argument("--content", type=Path, default=None,
                        help="content folder whose crisis/lexicon.yaml to use")
    crisis.add_argument("--signals", default=None,
                        help="which signals decide, of lexicon, cues, model (default: all)")
    _cases_parser(sub)
    _data_parsers(sub)
    _studio_parsers(sub)
    return parser


def _studio_parsers(sub: argparse._SubParsersAction) -> None:
    """The editors' studio and posters (issue 17); the work is in bot/studio/commands.py."""
    def names(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", help="deployment config YAML (or TEMANJIWA_CONFIG)")
        parser.add_argument("--telegram-username", help="the bot's Telegram username "
                            "(default: posters.telegram_username in the config)")
        parser.add_argument("--whatsapp-number", help="the bot's WhatsApp number with country "
                            "code (default: posters.whatsapp_number in the config)")

    poster = sub.add_parser("poster", help="a printable A4 poster whose QR code opens FLOW")
    poster.add_argument("flow")
    poster.add_argument("--channel", choices=("telegram", "whatsapp"), default="telegram")
    poster.add_argument("--out", type=Path, required=True,
                        help="poster.pdf, poster.png or poster.svg (PDF and SVG get a PNG too)")
    poster.add_argument("--content", type=Path, help="content folder (default: content/id)")
    names(poster)
    studio = sub.add_parser("studio", help="a local page for editors: flow maps, a "
                            "simulator, problems, conversation tests, posters")
    studio.add_argument("dir", nargs="?", type=Path, default=None)
    studio.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    studio.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    studio.add_argument("--no-browser", action="store_true", help="do not open a browser")
    names(studio)


def _cases_parser(sub: argparse._SubParsersAction) -> None:
    cases = sub.add_parser("cases", help="cadre cases for operators: list, show, claim, note, "
                           "resolve, invite")
    _common(cases)
    action = cases.add_subparsers(dest="action", required=True)
    listing = action.add_parser("list", help="open cases, newest first")
    listing.add_argument("--all", action="store_true", help="closed cases too")
    action.add_parser("show", help="one case: its card, history and deliveries").add_argument(
        "code")
    claim = action.add_parser("claim", help="claim a case as the operator")
    claim.add_argument("code")
    claim.add_argument("--name", default="Operator", help="shown on the case card")
    note = action.add_parser("note", help="add a short note to a case")
    note.add_argument("code")
    note.add_argument("text")
    resolve = action.add_parser("resolve", help="close a case with an outcome")
    resolve.add_argument("code")
    resolve.add_argument("outcome", choices=list(OUTCOME_LABELS))
    resolve.add_argument("--note", help="a closing note")
    invite = action.add_parser("invite", help="create a one-time code a cadre sends to the bot")
    invite.add_argument("--name", required=True, help="the cadre's name, shown on cards")
    invite.add_argument("--route", help="limit the cadre to this route (default: all routes)")
    invite.add_argument("--hours", type=int, default=72, help="valid for (default 72)")


def _data_parsers(sub: argparse._SubParsersAction) -> None:
    """Retention and programme reports (issue 7); backups (issue 16)."""
    backup = sub.add_parser("backup", help="a consistent copy of the SQLite database, safe "
                            "while the bot runs (PostgreSQL: use pg_dump)")
    backup.add_argument("path", type=Path, help="the copy's file, or a folder for a dated "
                        "file (temanjiwa-YYYYmmdd-HHMMSS.db)")
    backup.add_argument("--config", help="deployment config YAML (or TEMANJIWA_CONFIG)")
    backup.add_argument("--db", help=f"the SQLite file (default: {default_db_path()})")
    purge = sub.add_parser("purge", help="apply retention now: delete inactive residents' data, "
                           "reduce old closed cases to anonymous statistics")
    _common(purge)
    report = sub.add_parser("report", help="anonymous programme report (CSV + HTML) for a period")
    _common(report)
    report.add_argument("--from", dest="start", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="first day (default: 12 weeks or 6 months before --to)")
    report.add_argument("--to", dest="end", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="last day (default: today in the deployment's time zone)")
    report.add_argument("--by", choices=("week", "month"), default="week")
    report.add_argument("--area", help="only this area id")
    report.add_argument("--out", type=Path, default=Path("."), help="folder for the CSV and HTML")
    report.add_argument("--demo", type=Path, metavar="OUT_DIR", help="seed a temporary database "
                        "with synthetic activity and write its report to OUT_DIR")


async def _purge(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = await open_store(choose_database(config, args.db).target)
    try:
        report = await purge(store, config, datetime.now(UTC))
    finally:
        await store.close()
    print(report.summary())
    return 0


def _backup(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    target = database_target(args.db, config.database, default_db_path())
    if is_postgres_url(target):
        print("temanjiwa backup copies the embedded SQLite database. This deployment uses "
              "PostgreSQL: back it up with pg_dump, e.g.\n  pg_dump --format=custom "
              "--file=temanjiwa-$(date +%F).dump \"$TEMANJIWA_DATABASE_URL\"\n"
              "(README: Running on several machines)", file=sys.stderr)
        return 2
    try:
        report = backup_sqlite(Path(target), args.path)
    except BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"{report.path}: {report.size:,} bytes, schema version {report.schema_version}, "
          f"{report.tables} tables, integrity ok")
    print(f"Not in the copy: the secret and the key ({target}.secret, {target}.key, or "
          "TEMANJIWA_SECRET / TEMANJIWA_ENCRYPTION_KEY). Keep them apart from the backups: "
          "without them a restored database cannot open what is sealed.", file=sys.stderr)
    return 0


def _quiet_terminal() -> None:
    """The interactive chat shares the terminal with the log: there, only errors; INFO and
    WARNING lines go to stderr when it is a file (the log) or with --verbose."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setLevel(logging.ERROR)


def _cancel_on_ctrl_c() -> asyncio.Event:
    """Ctrl-C cancels the running chat through the event loop's own signal wake-up.
    asyncio.run's handler runs only once the main thread notices the signal, and the
    kernel may hand it to the stdin reader or a database thread instead, leaving the loop
    asleep in select (seen about once in 30 runs on a busy machine)."""
    interrupted = asyncio.Event()
    task = asyncio.current_task()
    assert task is not None, "called outside a task"

    def cancel() -> None:
        interrupted.set()
        task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, cancel)
    return interrupted


async def _chat(args: argparse.Namespace) -> int:
    if not args.jsonl and not args.verbose and sys.stderr.isatty():
        _quiet_terminal()
    config = load_config(args.config)
    sender = ConsoleAlertSender()  # cadre alerts are shown after each turn
    runtime = await build_runtime(config, content_dir=args.content, db_path=args.db,
                                  alerts=sender)
    interrupted = _cancel_on_ctrl_c()
    try:
        chat = build_console(runtime, args.user_id, sender)
        if args.jsonl:
            return await chat.run_jsonl()
        return await chat.run_interactive()
    except asyncio.CancelledError:
        if not interrupted.is_set():
            raise
        return 130  # the shell's code for an interrupt, as before
    finally:
        await runtime.close()


async def _run(args: argparse.Namespace) -> int:
    telegram = os.environ.get("TELEGRAM_BOT_TOKEN")
    whatsapp = os.environ.get("WHATSAPP_ACCESS_TOKEN")
    if not telegram and not whatsapp:
        if sys.stdin.isatty():
            log.debug("no TELEGRAM_BOT_TOKEN or WHATSAPP_ACCESS_TOKEN set: starting console chat")
            args.jsonl, args.user_id = False, "console"
            return await _chat(args)
        print(_("No channel is configured. Set TELEGRAM_BOT_TOKEN (Telegram) and/or "
                "WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN and "
                "WHATSAPP_PHONE_NUMBER_ID (WhatsApp), or run 'temanjiwa chat' in a terminal."),
              file=sys.stderr)
        return 2
    config = load_config(args.config)
    if args.inbox_lease < MIN_LEASE_S:
        print(f"--inbox-lease (TEMANJIWA_INBOX_LEASE) must be at least {MIN_LEASE_S:g} "
              "seconds", file=sys.stderr)
        return 2
    options = RunOptions(args.content, args.db, args.webhook_url, args.host, args.port,
                         args.inbox_lease)
    return await run(config, os.environ, options)


def _lint(args: argparse.Namespace) -> int:
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
    directory = args.dir or default_content_dir()
    return asyncio.run(run_directory(directory, pattern=args.pattern, out=sys.stdout))


async def _cases(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    runtime = await build_runtime(config, content_dir=args.content, db_path=args.db)
    try:
        desk = runtime.escalation.desk
        operator = CadreIdentity("cli", "operator", getattr(args, "name", None) or "Operator")
        if args.action == "list":
            rows = await desk.list_cases(include_closed=args.all)
            if not rows:
                print(_("No cases."))
            tz = config.tz
            last_reply = _("last reply")
            for c in rows:
                who = c.claimed_name or "-"
                print(f"{c.code}  {c.level:<6}  {c.status:<7}  {c.route or '(no route)':<16}  "
                      f"{format_time(c.created_at, tz)}  {last_reply} "
                      f"{format_time(c.last_reply_at, tz)}  {who}")
            return 0
        if args.action == "show":
            text = await desk.show(args.code)
            if text is None:
                print(_("No case {code}.").format(code=args.code), file=sys.stderr)
                return 1
            print(text)
            return 0
        if args.action == "invite":
            try:
                code = await desk.create_invite(args.name, args.route, hours=args.hours)
            except ValueError as exc:
                print(exc, file=sys.stderr)
                return 2
            print(_("Invite code for {name}: {code}\nThe cadre sends it to the bot once "
                    "(valid {hours} h).").format(name=args.name, code=code, hours=args.hours))
            return 0
        if args.action == "claim":
            result = await desk.claim(args.code, operator)
        elif args.action == "note":
            result = await desk.note(args.code, operator, args.text)
        else:
            result = await desk.resolve(args.code, operator, args.outcome, args.note)
        print(result.reply, file=sys.stdout if result.ok else sys.stderr)
        if result.messages:
            print(_("(the running bot tells the resident and the cadre; {n} message(s) could "
                    "not be sent from here)").format(n=len(result.messages)), file=sys.stderr)
        return 0 if result.ok else 1
    finally:
        await runtime.close()


def _crisis_check(args: argparse.Namespace) -> int:
    content = args.content or default_content_dir()
    signals = ["--signals", args.signals] if args.signals else []
    return crisis_main(["--lexicon", str(content / "crisis" / "lexicon.yaml"), *signals])


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
        if args.command == "cases":
            return asyncio.run(_cases(args))
        if args.command == "purge":
            return asyncio.run(_purge(args))
        if args.command == "backup":
            return _backup(args)
        if args.command == "report":
            return asyncio.run(report_command(args))
        if args.command == "poster":
            return poster_command(args, args.content or default_content_dir())
        if args.command == "studio":
            return studio_command(args, args.dir or default_content_dir())
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
