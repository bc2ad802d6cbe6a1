"""The fake Bot API's state as a test drives it: chats and users, pushed updates, injected
faults, and what the bot has called (inspecting and waiting). Mixed into `FakeTelegram`."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram_wire import (
    _DEFAULT_DESCRIPTIONS,
    Call,
    WaitTimeout,
    _CallbackQuery,
    _Fault,
    _norm_chat_id,
    _param_eq,
    utf16_len,
)


class FakeTelegramState:
    """Chats, updates, faults and the call record (the attributes are set by FakeTelegram)."""

    # ------------------------------------------------------------------ failure injection

    def fail_next(
        self,
        method: str | None,
        *,
        status: int = 500,
        times: int | None = 1,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `times` calls to `method` (None: any method) get an error answer.

        `times=None` keeps failing until `clear_faults()`. `chat_id` restricts the fault to
        calls about that chat.
        """
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}").format(
                retry_after=retry_after
            )
        self._faults.append(
            _Fault(
                method=self._canonical(method) if method else None,
                chat_id=_norm_chat_id(chat_id),
                remaining=times,
                status=status,
                description=description,
                parameters=parameters,
            )
        )

    def rate_limit_next(
        self,
        method: str | None,
        retry_after: int = 1,
        *,
        times: int | None = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """429 Too Many Requests with `parameters.retry_after` (PTB raises RetryAfter)."""
        self.fail_next(method, status=429, times=times, retry_after=retry_after, chat_id=chat_id)

    def hang_next(
        self,
        method: str | None,
        *,
        times: int | None = 1,
        seconds: float | None = None,
        apply: bool = False,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `times` calls hang (for `seconds`, or until `release_hung()`/stop).

        Make the client's read timeout shorter than the hang to get `telegram.error.TimedOut`.
        With `apply=True` the call takes effect once released (Telegram did send the message
        although the client gave up: the classic source of duplicates). `chat_id` restricts
        the hang to calls about that chat.
        """
        self._faults.append(
            _Fault(
                method=self._canonical(method) if method else None,
                chat_id=_norm_chat_id(chat_id),
                remaining=times,
                status=504,
                description=_DEFAULT_DESCRIPTIONS[504],
                hang=True,
                hang_seconds=seconds,
                apply_after_hang=apply,
            )
        )

    def release_hung(self) -> None:
        if self._hang_release is not None:
            self._hang_release.set()
            self._hang_release = asyncio.Event()

    def block_chat(self, chat_id: int | str) -> None:
        """Every call about this chat answers 403 (user blocked the bot / bot was kicked)."""
        self.blocked_chats.add(_norm_chat_id(chat_id))  # type: ignore[arg-type]

    def unblock_chat(self, chat_id: int | str) -> None:
        self.blocked_chats.discard(_norm_chat_id(chat_id))  # type: ignore[arg-type]

    def clear_faults(self) -> None:
        self._faults.clear()
        self.blocked_chats.clear()
        self.release_hung()

    # ------------------------------------------------------------------ chats and users

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "id",
    ) -> dict[str, Any]:
        user = self.users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or f"Warga{user_id}"}
            if username:
                user["username"] = username
            if language_code:
                user["language_code"] = language_code
            self.users[user_id] = user
        return user

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        chat = self.chats.get(chat_id)
        if chat is None:
            chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = first_name or f"Warga{chat_id}"
                if username:
                    chat["username"] = username
            else:
                chat["title"] = title or f"Grup {chat_id}"
            self.chats[chat_id] = chat
        return chat

    def _message_id(self, chat_id: int) -> int:
        n = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = n
        return n

    def _user_message(
        self, chat_id: int, user_id: int, *, chat_type: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        user = self.add_user(user_id)
        if chat_id == user_id and chat_type in (None, "private"):
            chat = self.add_chat(chat_id, chat_type="private", first_name=user["first_name"])
        else:
            chat = self.add_chat(chat_id, chat_type=chat_type)
        message = {
            "message_id": self._message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.messages.setdefault(chat_id, {})[message["message_id"]] = message
        return message

    # ------------------------------------------------------------------ pushing updates

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (update_id assigned when missing); returns it."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self._push_marks[update["update_id"]] = len(self.calls)
        self.pushed_updates.append(update)
        self._pending.append(update)
        self._wake_pollers("update")
        self._notify()
        return update

    def push_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A text message from a user. Text starting with "/" gets a bot_command entity at
        offset 0 (CommandHandler needs it); pass `entities=[]` to send a bare slash."""
        if entities is None:
            entities = []
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = self.messages.get(chat_id, {}).get(reply_to_message_id)
        message = self._user_message(
            chat_id,
            user_id,
            chat_type=chat_type,
            text=text,
            entities=entities or None,
            reply_to_message=reply_to,
        )
        return self.push_update({"message": message})

    def push_group_message(
        self, chat_id: int, user_id: int, text: str, *, title: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        """A message in a supergroup (negative chat id), e.g. a cadre group."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative (supergroups: -100...)")
        self.add_chat(chat_id, chat_type="supergroup", title=title)
        return self.push_message(chat_id, user_id, text, chat_type="supergroup", **kw)

    def push_edited_message(
        self, chat_id: int, user_id: int, message_id: int, text: str
    ) -> dict[str, Any]:
        original = self.messages.get(chat_id, {}).get(message_id)
        if original is None:
            original = self._user_message(chat_id, user_id, text=text)
        edited = {**original, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        self.messages.setdefault(chat_id, {})[edited["message_id"]] = edited
        return self.push_update({"edited_message": edited})

    def _new_file(
        self, kind: str, *, size: int = 1024, content: bytes | None = None, ext: str = "bin"
    ) -> dict[str, Any]:
        n = next(self._ids)
        file_id = f"FAKE{kind.upper()}{n:06d}AgADBAAD"
        content = content if content is not None else bytes(size)
        info = {
            "file_id": file_id,
            "file_unique_id": f"U{kind[:3]}{n}",
            "file_size": len(content),
            "file_path": f"{kind}s/file_{n}.{ext}",
        }
        self.files[file_id] = {**info, "content": content}
        return {k: info[k] for k in ("file_id", "file_unique_id", "file_size")}

    def push_sticker(
        self, chat_id: int, user_id: int, *, emoji: str = "🙂", **kw: Any
    ) -> dict[str, Any]:
        sticker = {
            **self._new_file("sticker", ext="webp"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self.push_update({"message": self._user_message(chat_id, user_id, sticker=sticker)})

    def push_photo(
        self, chat_id: int, user_id: int, *, caption: str | None = None
    ) -> dict[str, Any]:
        small = {**self._new_file("photo", size=900, ext="jpg"), "width": 90, "height": 90}
        large = {**self._new_file("photo", size=40_000, ext="jpg"), "width": 800, "height": 800}
        message = self._user_message(chat_id, user_id, photo=[small, large], caption=caption)
        return self.push_update({"message": message})

    def push_voice(self, chat_id: int, user_id: int, *, duration: int = 3) -> dict[str, Any]:
        voice = {**self._new_file("voice", size=6000, ext="oga"), "duration": duration}
        voice["mime_type"] = "audio/ogg"
        return self.push_update({"message": self._user_message(chat_id, user_id, voice=voice)})

    def push_document(
        self,
        chat_id: int,
        user_id: int,
        *,
        file_name: str = "catatan.pdf",
        mime_type: str = "application/pdf",
        content: bytes = b"%PDF-1.4 fake",
        caption: str | None = None,
    ) -> dict[str, Any]:
        document = {
            **self._new_file("document", content=content, ext=file_name.rsplit(".", 1)[-1]),
            "file_name": file_name,
            "mime_type": mime_type,
        }
        message = self._user_message(chat_id, user_id, document=document, caption=caption)
        return self.push_update({"message": message})

    def push_location(
        self, chat_id: int, user_id: int, *, latitude: float = -6.2, longitude: float = 106.8
    ) -> dict[str, Any]:
        location = {"latitude": latitude, "longitude": longitude}
        message = self._user_message(chat_id, user_id, location=location)
        return self.push_update({"message": message})

    def push_contact(
        self,
        chat_id: int,
        user_id: int,
        *,
        phone_number: str = "+6281234567890",
        first_name: str = "Ibu",
        contact_user_id: int | None = None,
    ) -> dict[str, Any]:
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self.push_update({"message": self._user_message(chat_id, user_id, contact=contact)})

    def push_callback(
        self, chat_id: int, user_id: int, data: str, message_id: int | None = None
    ) -> dict[str, Any]:
        """A press on an inline button. Without `message_id`: the latest bot message in the
        chat that has an inline keyboard."""
        if message_id is None:
            message = self.last_bot_message(chat_id, with_keyboard=True)
            if message is None:
                raise LookupError(f"no bot message with an inline keyboard in chat {chat_id}")
        else:
            message = self.messages.get(chat_id, {}).get(message_id)
            if message is None:  # a message Telegram no longer has: an inaccessible one
                message = {"message_id": message_id, "date": 0, "chat": self.add_chat(chat_id)}
        user = self.add_user(user_id)
        query_id = str(4_000_000_000_000 + next(self._ids))
        self.callback_queries[query_id] = _CallbackQuery(
            id=query_id, chat_id=chat_id, message_id=message["message_id"], data=data
        )
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(-(10**18) - chat_id),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def press(
        self, chat_id: int, user_id: int, label: str, *, message_id: int | None = None
    ) -> dict[str, Any]:
        """Press the inline button whose text is `label` (latest keyboard by default)."""
        if message_id is None:
            message = self.last_bot_message(chat_id, with_keyboard=True)
        else:
            message = self.messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise LookupError(f"no bot message with an inline keyboard in chat {chat_id}")
        for row in self.buttons(message):
            for text, data in row:
                if text == label and data is not None:
                    return self.push_callback(chat_id, user_id, data, message["message_id"])
        raise LookupError(f"no button {label!r}; buttons are {self.buttons(message)}")

    def push_my_chat_member(
        self, chat_id: int, user_id: int, *, new_status: str = "kicked", old_status: str = "member"
    ) -> dict[str, Any]:
        """The bot's membership changed (status "kicked" in a private chat: user blocked it)."""
        user = self.add_user(user_id)
        chat = self.add_chat(chat_id)
        member = {"user": self.bot_user}
        update = {
            "my_chat_member": {
                "chat": chat,
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {**member, "status": old_status}
                | ({"until_date": 0} if old_status == "kicked" else {}),
                "new_chat_member": {**member, "status": new_status}
                | ({"until_date": 0} if new_status == "kicked" else {}),
            }
        }
        return self.push_update(update)

    def push_blocked_by_user(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """The user blocks the bot: later sends fail with 403 and the bot gets an update."""
        self.block_chat(chat_id)
        return self.push_my_chat_member(chat_id, user_id, new_status="kicked")

    # ------------------------------------------------------------------ inspecting

    def mark(self) -> int:
        """Position in the call log; pass as `since=` to only look at later calls."""
        return len(self.calls)

    def calls_to(self, method: str, **params: Any) -> list[Call]:
        method = self._canonical(method)
        return [
            c
            for c in self.calls
            if c.method == method and all(_param_eq(c, k, v) for k, v in params.items())
        ]

    def sent_texts(self, chat_id: int) -> list[str]:
        """Texts of successful sendMessage calls to the chat, in order."""
        return [
            c.result.get("text", "")
            for c in self.calls
            if c.method == "sendMessage" and c.ok and c.chat_id == chat_id
        ]

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages as they are now (after edits, without deleted ones)."""
        bot_id = self.bot_user["id"]
        return [
            m
            for m in self.messages.get(chat_id, {}).values()
            if m.get("from", {}).get("id") == bot_id
        ]

    def last_bot_message(self, chat_id: int, *, with_keyboard: bool = False) -> dict | None:
        for message in reversed(self.bot_messages(chat_id)):
            if not with_keyboard or (message.get("reply_markup") or {}).get("inline_keyboard"):
                return message
        return None

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard of a message as rows of (text, callback_data)."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in rows]

    def transcript(self, chat_id: int) -> list[str]:
        """The chat as lines "user: ..." / "bot: ... [buttons]" (for failure messages)."""
        bot_id = self.bot_user["id"]
        lines = []
        for message in self.messages.get(chat_id, {}).values():
            who = "bot" if message.get("from", {}).get("id") == bot_id else "user"
            body = message.get("text") or message.get("caption") or ""
            if not body:
                kinds = ("sticker", "photo", "voice", "document", "location", "contact")
                body = "<" + next((k for k in kinds if k in message), "other") + ">"
            buttons = [t for row in self.buttons(message) for t, _ in row]
            lines.append(f"{who}: {body}" + (f" {buttons}" if buttons else ""))
        return lines

    def unanswered_callbacks(self) -> list[str]:
        return [q.id for q in self.callback_queries.values() if not q.answered]

    def duplicate_deliveries(self) -> dict[int, int]:
        """update_id -> times delivered, for updates getUpdates returned more than once."""
        return {uid: n for uid, n in self.delivered.items() if n > 1}

    # ------------------------------------------------------------------ waiting

    async def wait_until(
        self, condition: Callable[[], Any], timeout: float = 5.0, *, what: str = ""
    ) -> Any:
        """Await until `condition()` is truthy (re-checked after every call/push/state
        change); returns its value. `timeout` is only a failure guard."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n  ".join(c.short() for c in self.calls[-15:]) or "(none)"
                raise WaitTimeout(
                    f"gave up after {timeout}s waiting for {what or condition!r}; "
                    f"last calls:\n  {recent}"
                )
            waiter: asyncio.Future[None] = loop.create_future()
            self._change_waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._change_waiters.discard(waiter)

    async def wait_for(
        self,
        what: str | Callable[[Call], bool],
        *,
        timeout: float = 5.0,
        count: int = 1,
        since: int | dict[str, Any] | None = None,
        pending: bool = False,
        **params: Any,
    ) -> Call:
        """Await the `count`-th call matching `what` (a method name or a predicate on
        `Call`) and `params` (compared with the decoded request parameters).

        `since`: a `mark()` or a pushed update (only calls after that push count).
        Only answered calls count unless `pending=True`.
        """
        if isinstance(since, dict):
            start = self._push_marks.get(since.get("update_id", -1), 0)
        else:
            start = since or 0
        method = self._canonical(what) if isinstance(what, str) else None

        def match(call: Call) -> bool:
            if not (pending or call.done):
                return False
            if method is not None and call.method != method:
                return False
            if method is None and not what(call):  # type: ignore[operator]
                return False
            return all(_param_eq(call, k, v) for k, v in params.items())

        def found() -> Call | None:
            hits = 0
            for call in itertools.islice(self.calls, start, None):
                if match(call):
                    hits += 1
                    if hits == count:
                        return call
            return None

        label = f"{what if isinstance(what, str) else 'predicate'} {params or ''} x{count}"
        return await self.wait_until(found, timeout, what=label)

    async def wait_acked(self, update_id: int | None = None, timeout: float = 5.0) -> None:
        """Await until the bot confirmed `update_id` (default: the last pushed update) by
        asking getUpdates for a later offset."""
        if update_id is None:
            update_id = self._next_update_id - 1
        await self.wait_until(
            lambda: self.acked_offset > update_id, timeout, what=f"ack of update {update_id}"
        )

    def _notify(self) -> None:
        for waiter in self._change_waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _wake_pollers(self, reason: str) -> None:
        for poller in self._pollers:
            if not poller.done():
                poller.set_result(reason)
