"""Telegram throughput benchmark: a bare python-telegram-bot echo bot (the floor) and, side
by side, any other bot built by a `build_application(...)` factory.

    python -m bench.telegram_bench                       # echo floor, 5,000 updates
    python -m bench.telegram_bench --updates 20000 --chats 2000 --concurrency 1,64
    python -m bench.telegram_bench --full                # + the full Teman Jiwa bot
    python -m bench.telegram_bench --bot mine=package.module:factory
    python -m bench.telegram_bench --side-by-side        # buttons: echo, ConversationHandler
        # + PicklePersistence PHQ-9 peer, Teman Jiwa; limiter off and on; 3 rounds; ratios

How it measures
* The fake Bot API (tests/fakes/telegram_api.py) runs in a *child process*, so the CPU time
  reported is the bot process's alone (`time.process_time()`, all threads of this process).
* The bot polls the fake over 127.0.0.1 like it would poll api.telegram.org.
* Warm-up: every chat sends "/start" (imports, caches, first connections, first rows in a
  database are done before the clock starts). Then N free-text messages ("halo <i>"),
  round-robin over the chats, are queued at once and the clock runs until the bot has
  confirmed all of them (getUpdates offset past the last one) and finished handling them
  (`Application.update_queue.join()`: every update's handlers returned).
* No rate limiter by default: `AIORateLimiter` caps sending at ~30 messages/s (Telegram's
  own limit), which would measure the limiter, not the bot. The factory receives
  `rate_limiter=None` and `limiter=False`, and the run is refused if the built bot still
  has one. `--side-by-side` also runs every bot with `limiter=True` (PTB's
  `AIORateLimiter`; Teman Jiwa: `TelegramLimits`, what `temanjiwa run` uses) and checks
  the bot really has one.
* `--side-by-side`: button conversations. A presser in the fake's process
  (tests/fakes/telegram_presser.py) presses a button of each new keyboard in every chat,
  one press in flight per chat, and times press → next keyboard.
* Handlers with `block=False` finish outside the measured window; the numbers then
  understate the work.

Factory contract (for the real bot): a callable, sync or async, returning a PTB
`Application`. It is called with those of these keyword arguments it declares (or all of
them if it takes **kwargs):
    token, base_url, base_file_url   -> point the bot at the fake server (required)
    builder                          -> an ApplicationBuilder already set up with the above,
                                        concurrency and no rate limiter
    concurrent_updates (int)         -> 1 = sequential, n > 1 = up to n updates at once
    rate_limiter (None)
    limiter (bool)                   -> build with a rate limiter (--side-by-side)
    data_dir (str), db_path (str)    -> a fresh temporary directory / SQLite path per run
plus any `--bot-arg key=value`. The bench refuses a bot whose base_url is not the fake's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import importlib
import inspect
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/telegram_bench.py` works too
    sys.path.insert(0, str(ROOT))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)
from telegram.warnings import PTBUserWarning  # noqa: E402

from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramProcess  # noqa: E402

# The peer uses CallbackQueryHandlers with per_message=False on purpose (one state per chat).
warnings.filterwarnings("ignore", message=".*per_message", category=PTBUserWarning)

Factory = Callable[..., Any]


# ---------------------------------------------------------------------- the floor


def _builder(token: str, base_url: str, base_file_url: str, concurrent_updates: int,
             limiter: bool) -> ApplicationBuilder:
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .concurrent_updates(concurrent_updates if concurrent_updates > 1 else False)
    )
    return builder.rate_limiter(AIORateLimiter()) if limiter else builder


ECHO_KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Lagi", callback_data="lagi")]])


def build_echo_application(
    *, token: str, base_url: str, base_file_url: str, concurrent_updates: int = 1,
    limiter: bool = False,
) -> Application:
    """The cheapest useful bot: /start greets with a button, any text is echoed, a press is
    answered and echoed with the button again. `limiter`: PTB's `AIORateLimiter`."""
    app = _builder(token, base_url, base_file_url, concurrent_updates, limiter).build()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("Halo! Aku Teman Jiwa.",
                                                  reply_markup=ECHO_KEYBOARD)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(update.effective_message.text)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()
        await query.message.reply_text(f"Kamu menekan: {query.data}", reply_markup=ECHO_KEYBOARD)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    return app


# ------------------------------------------------------------- the competent peer

PHQ9_ITEMS = (
    "Kurang tertarik atau bergairah dalam melakukan apapun",
    "Merasa murung, sedih, atau putus asa",
    "Sulit tidur atau mudah terbangun, atau terlalu banyak tidur",
    "Merasa lelah atau kurang bertenaga",
    "Kurang nafsu makan atau terlalu banyak makan",
    "Kurang percaya diri, atau merasa gagal atau mengecewakan diri sendiri atau keluarga",
    "Sulit berkonsentrasi, misalnya membaca koran atau menonton televisi",
    "Bergerak atau berbicara sangat lambat, atau sebaliknya gelisah",
    "Merasa lebih baik mati atau ingin melukai diri sendiri",
)
PHQ9_OPTIONS = (("0", "Tidak sama sekali"), ("1", "Beberapa hari"),
                ("2", "Lebih dari separuh waktu"), ("3", "Hampir setiap hari"))
PHQ9_BANDS = ((20, "berat"), (15, "cukup berat"), (10, "sedang"), (5, "ringan"), (0, "minimal"))
CONSENT, ITEM, DONE = range(3)


def _item_keyboard(index: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=f"{index}:{v}")]
                                 for v, label in PHQ9_OPTIONS])


def build_conversation_application(
    *, token: str, base_url: str, base_file_url: str, data_dir: str,
    concurrent_updates: int = 1, limiter: bool = False,
) -> Application:
    """A competent python-telegram-bot PHQ-9 bot: `ConversationHandler` (persistent) with
    `PicklePersistence`, consent, nine items as buttons (the pressed message is edited to
    show the answer, the next item is a new message), a result with "not a diagnosis" and a
    button to start again. `limiter`: PTB's `AIORateLimiter`."""
    persistence = PicklePersistence(filepath=str(Path(data_dir) / "phq9.pickle"))
    builder = _builder(token, base_url, base_file_url, concurrent_updates, limiter)
    app = builder.persistence(persistence).build()
    consent_keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Setuju", callback_data="ya"),
                                              InlineKeyboardButton("Tidak", callback_data="no")]])

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        context.user_data.clear()
        await update.effective_message.reply_text(
            "Halo! Aku Teman Jiwa. Cek singkat 9 pertanyaan tentang 2 minggu terakhir. "
            "Jawabanmu disimpan tanpa nama. Setuju?", reply_markup=consent_keyboard)
        return CONSENT

    async def consent(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        await query.answer()
        if query.data != "ya":
            await query.edit_message_text("Baik. Ketik /start kapan saja.")
            return ConversationHandler.END
        await query.edit_message_reply_markup(None)
        context.user_data["answers"] = []
        await query.message.reply_text(f"1/9. {PHQ9_ITEMS[0]}", reply_markup=_item_keyboard(0))
        return ITEM

    async def item(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        await query.answer()
        index_text, _, value = (query.data or "").partition(":")
        answers: list[int] = context.user_data.setdefault("answers", [])
        if not index_text.isdigit() or int(index_text) != len(answers):
            return ITEM  # an old keyboard
        label = dict(PHQ9_OPTIONS).get(value, "?")
        await query.edit_message_text(f"{query.message.text}\n\u2713 {label}")
        answers.append(int(value))
        if len(answers) < len(PHQ9_ITEMS):
            n = len(answers)
            await query.message.reply_text(f"{n + 1}/9. {PHQ9_ITEMS[n]}",
                                           reply_markup=_item_keyboard(n))
            return ITEM
        score = sum(answers)
        band = next(name for cut, name in PHQ9_BANDS if score >= cut)
        again = InlineKeyboardMarkup([[InlineKeyboardButton("Ulangi", callback_data="ulangi")]])
        await query.message.reply_text(
            f"Skor PHQ-9: {score} ({band}). Ini bukan diagnosis. Bicara dengan puskesmas "
            "terdekat bisa membantu; dalam bahaya, hubungi 119 ext 8.", reply_markup=again)
        return DONE

    async def again(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        await query.answer()
        await query.edit_message_reply_markup(None)
        context.user_data["answers"] = []
        await query.message.reply_text(f"1/9. {PHQ9_ITEMS[0]}", reply_markup=_item_keyboard(0))
        return ITEM

    app.add_handler(ConversationHandler(  # per_message=False: one state per chat
        entry_points=[CommandHandler("start", start)],
        states={CONSENT: [CallbackQueryHandler(consent)], ITEM: [CallbackQueryHandler(item)],
                DONE: [CallbackQueryHandler(again)]},
        fallbacks=[CommandHandler("start", start)],
        name="phq9", persistent=True, per_message=False,
    ))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, start))
    return app


async def build_temanjiwa_application(
    *,
    token: str,
    base_url: str,
    base_file_url: str,
    concurrent_updates: int = 1,
    db_path: str,
    join_bubbles: str | bool = True,
    durable_dedupe: str | bool = True,
    limiter: bool = False,
) -> Application:
    """The full bot: real content (content/id), engine, SQLite store in a temporary file,
    `bot.telegram.build_application`. The runtime is closed in post_shutdown.

    The flood guard is off: the bench sends every chat 10 messages at once, which it would
    (rightly) slow down. `--bot-arg join_bubbles=0` sends each bubble of a turn as its own
    message (the behaviour before turns were joined), `--bot-arg durable_dedupe=0` skips the
    database record of each update_id. `limiter`: what `temanjiwa run` uses, Telegram's own
    limits (`TelegramLimits`, crisis first)."""
    import os

    from bot.app import build_runtime
    from bot.config import Config
    from bot.telegram import TelegramChannel, build_application

    def flag(value: str | bool) -> bool:
        return value if isinstance(value, bool) else value.lower() not in ("0", "false", "no")

    os.environ.setdefault("TEMANJIWA_SECRET", "bench-only-secret")
    runtime = await build_runtime(Config(), db_path=Path(db_path))
    channel = TelegramChannel(
        runtime.conversations,
        flood_limit=0,
        join_bubbles=flag(join_bubbles),
        durable_dedupe=flag(durable_dedupe),
    )
    app = build_application(
        runtime.conversations,
        token=token,
        base_url=base_url,
        base_file_url=base_file_url,
        rate_limiter="default" if limiter else None,
        concurrent_updates=concurrent_updates,
        channel=channel,
    )
    previous = app.post_shutdown

    async def close(application: Application) -> None:
        if previous is not None:
            await previous(application)
        await runtime.close()

    app.post_shutdown = close
    return app


# ---------------------------------------------------------------------- plumbing


@dataclass
class Result:
    bot: str
    concurrency: int
    updates: int
    seconds: float
    cpu_seconds: float
    replies: int
    errors: int
    duplicates: int
    server_cpu_seconds: float
    mode: str = "text"
    limiter: bool = False
    reply_p50_ms: float | None = None  # buttons: a press until the next keyboard
    reply_p99_ms: float | None = None
    calls: dict[str, int] | None = None

    @property
    def updates_per_second(self) -> float:
        return self.updates / self.seconds if self.seconds else float("inf")

    @property
    def cpu_ms_per_update(self) -> float:
        return 1000 * self.cpu_seconds / self.updates

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "updates_per_second": round(self.updates_per_second, 1),
            "cpu_ms_per_update": round(self.cpu_ms_per_update, 4),
        }


def load_factory(spec: str) -> Factory:
    """ "package.module:callable" -> the callable."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"--bot expects NAME=module:callable, got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


async def build(factory: Factory, offered: dict[str, Any]) -> Application:
    parameters = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        kwargs = offered
    else:
        kwargs = {k: v for k, v in offered.items() if k in parameters}
    app = factory(**kwargs)
    if inspect.isawaitable(app):
        app = await app
    if not isinstance(app, Application):
        raise TypeError(f"factory returned {type(app).__name__}, expected an Application")
    if not app.bot.base_url.startswith(offered["base_url"]):
        raise RuntimeError(
            f"the bot talks to {app.bot.base_url!r}, not to the fake server: refusing to run"
        )
    has_limiter = getattr(app.bot, "rate_limiter", None) is not None
    if has_limiter != bool(offered.get("limiter")):
        raise RuntimeError(f"the bot's rate limiter is {'on' if has_limiter else 'off'}, "
                           f"asked for {'on' if offered.get('limiter') else 'off'}")
    return app


async def run_one(
    name: str,
    factory: Factory,
    *,
    updates: int,
    chats: int,
    concurrency: int,
    extra: dict[str, Any],
    profile: cProfile.Profile | None = None,
    buttons: bool = False,
    limiter: bool = False,
) -> Result:
    """`updates` text messages queued at once; or with `buttons`, a closed loop: a resident
    in every chat presses a button of each keyboard the bot posts, `updates` presses in
    all (the presser runs in the fake's process)."""
    with FakeTelegramProcess() as server, tempfile.TemporaryDirectory() as tmp:
        builder = (
            ApplicationBuilder()
            .token(DEFAULT_TOKEN)
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .concurrent_updates(concurrency if concurrency > 1 else False)
        )
        offered = {
            "token": DEFAULT_TOKEN,
            "base_url": server.base_url,
            "base_file_url": server.base_file_url,
            "builder": builder,
            "concurrent_updates": concurrency,
            "rate_limiter": None,
            "limiter": limiter,
            "data_dir": tmp,
            "db_path": str(Path(tmp) / "bench.sqlite3"),
            **extra,
        }
        app = await build(factory, offered)
        presses: dict[str, Any] = {}
        # The same lifecycle as Application.run_polling, post_init and post_shutdown included.
        async with app:
            if app.post_init is not None:
                await app.post_init(app)
            await app.updater.start_polling(poll_interval=0.0, timeout=10)
            await app.start()
            try:
                # Warm-up: every chat says /start once.
                _, last = await server.push_text_bulk(chats, chats=chats, start=True)
                await server.wait_acked(last)
                await app.update_queue.join()
                await server.reset_calls()
                before = await server.stats()
                gc.collect()

                cpu0, t0 = time.process_time(), time.perf_counter()
                if profile is not None:
                    profile.enable()
                if buttons:
                    presses = await press_loop(server, app, updates, chats)
                else:
                    _, last = await server.push_text_bulk(updates, chats=chats, start=False)
                    await server.wait_acked(last, timeout=max(120.0, updates / 10))
                    await app.update_queue.join()
                if profile is not None:
                    profile.disable()
                seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0

                after = await server.stats()
            finally:
                await app.updater.stop()
                await app.stop()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
    handled = presses.get("pressed", updates) if buttons else updates
    return Result(
        bot=name,
        concurrency=concurrency,
        updates=handled + (chats if buttons else 0),
        seconds=seconds,
        cpu_seconds=cpu,
        replies=after["calls"].get("sendMessage", 0),
        errors=after["errors"],
        duplicates=after["duplicates"],
        server_cpu_seconds=after["cpu_seconds"] - before["cpu_seconds"],
        mode="buttons" if buttons else "text",
        limiter=limiter,
        reply_p50_ms=presses.get("p50_ms"),
        reply_p99_ms=presses.get("p99_ms"),
        calls=dict(after["calls"]),
    )


PREFER = ("setuju", "ya", "dewasa", "lewati", "mulai", "ulangi", "lagi")
STALL_SECONDS = 15.0


async def press_loop(server: FakeTelegramProcess, app: Application, presses: int,
                     chats: int) -> dict[str, Any]:
    """Every chat says /start again; the presser then answers each keyboard until
    `presses` are used up; returns once the bot has handled the last press."""
    await server.auto_press(presses, PREFER)
    await server.push_text_bulk(chats, chats=chats, start=True)
    progress, moved_at = -1, time.perf_counter()
    while True:
        await asyncio.sleep(0.2)
        stats = await server.auto_press()
        if stats["left"] <= 0:
            break
        if stats["pressed"] != progress:
            progress, moved_at = stats["pressed"], time.perf_counter()
        elif time.perf_counter() - moved_at > STALL_SECONDS:
            print(f"warning: presses stalled at {progress} of {presses}", file=sys.stderr)
            break
    pushed = (await server.stats())["pushed"]
    await server.wait_acked(pushed, timeout=120.0)
    await app.update_queue.join()
    stats = await server.auto_press()
    await server.auto_press(0)
    return stats


def table(results: list[Result], baseline: str) -> str:
    header = (
        f"{'bot':<12} {'conc':>4} {'updates':>8} {'seconds':>8} {'upd/s':>9} "
        f"{'CPU ms/upd':>10} {'x floor':>8} {'replies/upd':>11} {'errors':>6} {'dup':>4} "
        f"{'fake CPU s':>10}"
    )
    floor = {r.concurrency: r for r in results if r.bot == baseline}
    lines = [header, "-" * len(header)]
    for r in results:
        base = floor.get(r.concurrency)
        ratio = f"{r.cpu_ms_per_update / base.cpu_ms_per_update:.2f}" if base else "-"
        lines.append(
            f"{r.bot:<12} {r.concurrency:>4} {r.updates:>8} {r.seconds:>8.2f} "
            f"{r.updates_per_second:>9.0f} {r.cpu_ms_per_update:>10.3f} {ratio:>8} "
            f"{r.replies / r.updates:>11.2f} {r.errors:>6} {r.duplicates:>4} "
            f"{r.server_cpu_seconds:>10.2f}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=5000, help="measured updates per run")
    parser.add_argument("--chats", type=int, default=500, help="distinct private chats")
    parser.add_argument(
        "--concurrency",
        default="1",
        help="comma list; 1 = sequential (PTB default), n = concurrent_updates(n)",
    )
    parser.add_argument(
        "--bot",
        action="append",
        default=[],
        metavar="NAME=module:callable",
        help="an extra bot to measure next to the echo floor (repeatable)",
    )
    parser.add_argument(
        "--bot-arg", action="append", default=[], metavar="KEY=VALUE", help="extra factory kwarg"
    )
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per case; the best is kept (--side-by-side: rounds, "
                        "medians; default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the last bot's runs")
    parser.add_argument("--no-echo", action="store_true", help="skip the echo floor")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="button conversations: echo, the ConversationHandler PHQ-9 peer and Teman Jiwa, "
        "limiter off and on, --repeat interleaved rounds (default 3), medians and ratios",
    )
    parser.add_argument("--presses", type=int, default=2000, help="presses per run, limiter off")
    parser.add_argument("--presses-limited", type=int, default=300,
                        help="presses per run with the limiter on (it caps them near 15/s)")
    parser.add_argument("--button-chats", type=int, default=100, help="chats pressing buttons")
    parser.add_argument(
        "--full",
        action="store_true",
        help="also measure the full Teman Jiwa bot (bot.telegram, real content, SQLite)",
    )
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.side_by_side else 1
    return args


async def main_async(args: argparse.Namespace) -> list[Result]:
    bots: list[tuple[str, Factory]] = []
    if not args.no_echo:
        bots.append(("echo", build_echo_application))
    if args.full:
        bots.append(("temanjiwa", build_temanjiwa_application))
    for item in args.bot:
        name, _, spec = item.partition("=")
        bots.append((name, load_factory(spec)))
    extra = dict(kv.split("=", 1) for kv in args.bot_arg)
    levels = [int(x) for x in str(args.concurrency).split(",") if x.strip()]
    profile = cProfile.Profile() if args.profile else None

    results: list[Result] = []
    for name, factory in bots:
        for level in levels:
            best: Result | None = None
            for _ in range(max(1, args.repeat)):
                prof = profile if profile is not None and name == bots[-1][0] else None
                result = await run_one(
                    name,
                    factory,
                    updates=args.updates,
                    chats=args.chats,
                    concurrency=level,
                    extra=extra,
                    profile=prof,
                )
                if best is None or result.cpu_seconds < best.cpu_seconds:
                    best = result
            assert best is not None
            results.append(best)
            print(
                f"  {name} concurrency={level}: {best.updates_per_second:.0f} updates/s, "
                f"{best.cpu_ms_per_update:.3f} CPU ms/update",
                file=sys.stderr,
            )
    if profile is not None:
        profile.dump_stats(args.profile)
    return results


SIDE_BY_SIDE: tuple[tuple[str, Factory], ...] = (
    ("echo", build_echo_application),
    ("conversation", build_conversation_application),
    ("temanjiwa", build_temanjiwa_application),
)


async def side_by_side(args: argparse.Namespace) -> list[Result]:
    """Rounds of (limiter off, limiter on) × (echo, peer, Teman Jiwa), interleaved."""
    results: list[Result] = []
    profile = cProfile.Profile() if args.profile else None  # Teman Jiwa's runs
    level = int(str(args.concurrency).split(",")[0])  # the same for all three bots
    for round_ in range(max(1, args.repeat)):
        for limiter in (False, True):
            for name, factory in SIDE_BY_SIDE:
                result = await run_one(
                    name, factory, updates=args.presses_limited if limiter else args.presses,
                    chats=args.button_chats, concurrency=level, extra={}, buttons=True,
                    limiter=limiter, profile=profile if name == "temanjiwa" else None,
                )
                results.append(result)
                print(f"  round {round_ + 1} {name} limiter={'on' if limiter else 'off'}: "
                      f"{result.updates_per_second:.0f} updates/s, "
                      f"{result.cpu_ms_per_update:.3f} CPU ms/update, "
                      f"press→reply p50 {result.reply_p50_ms} ms", file=sys.stderr)
    if profile is not None:
        profile.dump_stats(args.profile)
    return results


def side_by_side_report(results: list[Result]) -> str:
    def median(name: str, limiter: bool, attr: str) -> float:
        values = [getattr(r, attr) for r in results if r.bot == name and r.limiter == limiter]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else float("nan")

    lines = ["bot | limiter | updates/s | CPU ms/update | press→reply p50 ms | p99 ms | runs",
             "---|---|---|---|---|---|---"]
    for limiter in (False, True):
        for name, _ in SIDE_BY_SIDE:
            runs = [r for r in results if r.bot == name and r.limiter == limiter]
            lines.append(
                f"{name} | {'on' if limiter else 'off'} | "
                f"{median(name, limiter, 'updates_per_second'):.0f} | "
                f"{median(name, limiter, 'cpu_ms_per_update'):.3f} | "
                f"{median(name, limiter, 'reply_p50_ms'):.1f} | "
                f"{median(name, limiter, 'reply_p99_ms'):.1f} | {len(runs)}"
            )
    for limiter in (False, True):
        tj = median("temanjiwa", limiter, "cpu_ms_per_update")
        peer = median("conversation", limiter, "cpu_ms_per_update")
        echo = median("echo", limiter, "cpu_ms_per_update")
        setting = "on" if limiter else "off"
        lines.append(f"limiter {setting}: Teman Jiwa CPU/update = {tj / peer:.2f}x the "
                     f"ConversationHandler peer (target <= 1.2), {tj / echo:.2f}x echo"
                     + (" (target <= 1.3)" if not limiter else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.side_by_side:
        results = asyncio.run(side_by_side(args))
        print(side_by_side_report(results))
        if args.json:
            Path(args.json).write_text(json.dumps([r.as_dict() for r in results], indent=2))
        return 0
    results = asyncio.run(main_async(args))
    print(table(results, baseline="echo"))
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in results], indent=2))
    bad = [r for r in results if r.errors or r.duplicates or r.replies < r.updates]
    for r in bad:
        print(
            f"warning: {r.bot} (concurrency {r.concurrency}): {r.errors} error answers, "
            f"{r.duplicates} duplicate deliveries, {r.replies} replies for {r.updates} updates",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
