"""The fake Bot API's methods, as Telegram answers them (errors included). Mixed into
`FakeTelegram`; each `_m_<method>` gets the decoded parameters and returns the result."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.requests import Request

from tests.fakes.telegram_wire import (
    _CHAT_ACTIONS,
    _COMMAND_RE,
    _DEFAULT_DESCRIPTIONS,
    _SECRET_RE,
    ApiError,
    _check_reply_markup,
    _norm_chat_id,
    parse_html,
)


class BotApiMethods:
    """One handler per Bot API method the bot uses (the attributes are set by FakeTelegram)."""

    # ------------------------------------------------------------------ method handlers

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _norm_chat_id(params.get("chat_id"))
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            if self.strict_chats or not isinstance(chat_id, int):
                raise ApiError(400, "Bad Request: chat not found")
            chat = self.add_chat(chat_id)
        return chat

    def _find_message(self, params: dict[str, Any], verb: str) -> dict[str, Any]:
        chat = self._chat(params)
        message_id = params.get("message_id")
        message = self.messages.get(chat["id"], {}).get(message_id)  # type: ignore[arg-type]
        if message is None:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        return message

    @staticmethod
    def _formatted(params: dict[str, Any], key: str = "text") -> tuple[str, list | None]:
        text = params.get(key)
        if text is None:
            return "", None
        text = str(text)
        if str(params.get("parse_mode") or "").lower() == "html":
            text, entities = parse_html(text)
            return text, entities or None
        return text, params.get("entities" if key == "text" else "caption_entities") or None

    def _bot_message(self, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message = {
            "message_id": self._message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.messages.setdefault(chat["id"], {})[message["message_id"]] = message
        return message

    @staticmethod
    def _inline_only(markup: Any) -> Any:
        # Only inline keyboards are echoed back in Message.reply_markup.
        return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    def _m_logOut(self, params: dict[str, Any]) -> bool:
        return True

    def _m_close(self, params: dict[str, Any]) -> bool:
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._drop_pending()
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._drop_pending()
        self.webhook = {}
        return True

    def _drop_pending(self) -> None:
        if self._pending:
            self.acked_offset = max(self.acked_offset, self._pending[-1]["update_id"] + 1)
        self._pending.clear()

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _m_getUpdates(
        self, params: dict[str, Any], request: Request | None = None
    ) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"] or []) or None
        if offset is not None:
            offset = int(offset)
            if offset < 0:
                self._pending = self._pending[offset:]
            else:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
                if offset > self.acked_offset:
                    self.acked_offset = offset
                    self._notify()
        # A newer getUpdates terminates an older long poll, as Telegram does.
        self._wake_pollers("conflict")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.allowed_updates:
                allowed = set(self.allowed_updates)
                self._pending = [u for u in self._pending if allowed & set(u)]
            batch = self._pending[:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                break
            poller: asyncio.Future[str] = loop.create_future()
            self._pollers.add(poller)
            try:
                reason = await asyncio.wait_for(poller, remaining)
            except TimeoutError:
                break
            finally:
                self._pollers.discard(poller)
            if reason == "conflict":
                if request is not None and await request.is_disconnected():
                    # The client gave up on this poll (e.g. the updater stopped): not a
                    # second bot instance, so no 409 in the log.
                    raise ApiError(499, "Client Closed Request: long poll abandoned")
                raise ApiError(409, _DEFAULT_DESCRIPTIONS[409])
            if reason == "down":
                raise ApiError(502, "Bad Gateway")
            if reason == "closing":
                return []
        for update in batch:
            self.delivered[update["update_id"]] += 1
        return batch

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text, entities = self._formatted(params)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        markup = _check_reply_markup(params.get("reply_markup"))
        reply_to = None
        reply_parameters = params.get("reply_parameters") or {}
        reply_id = reply_parameters.get("message_id") or params.get("reply_to_message_id")
        if reply_id is not None:
            reply_to = self.messages.get(chat["id"], {}).get(reply_id)
        return self._bot_message(
            chat,
            text=text,
            entities=entities,
            reply_markup=self._inline_only(markup),
            reply_to_message=reply_to,
        )

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted(params)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = self._inline_only(_check_reply_markup(params.get("reply_markup")))
        same = (
            text == message.get("text")
            and entities == message.get("entities")
            and markup == message.get("reply_markup")
        )
        if same:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        edited = {**message, "text": text, "edit_date": int(time.time())}
        for key, value in (("entities", entities), ("reply_markup", markup)):
            if value is None:
                edited.pop(key, None)
            else:
                edited[key] = value
        self.messages[message["chat"]["id"]][message["message_id"]] = edited
        return edited

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = self._inline_only(_check_reply_markup(params.get("reply_markup")))
        if markup == message.get("reply_markup"):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        edited = {**message, "edit_date": int(time.time())}
        if markup is None:
            edited.pop("reply_markup", None)
        else:
            edited["reply_markup"] = markup
        self.messages[message["chat"]["id"]][message["message_id"]] = edited
        return edited

    def _m_editMessageCaption(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "edit")
        caption, entities = self._formatted(params, "caption")
        edited = {**message, "caption": caption, "edit_date": int(time.time())}
        if entities:
            edited["caption_entities"] = entities
        markup = self._inline_only(_check_reply_markup(params.get("reply_markup")))
        if markup is None:
            edited.pop("reply_markup", None)
        else:
            edited["reply_markup"] = markup
        self.messages[message["chat"]["id"]][message["message_id"]] = edited
        return edited

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        message = self._find_message(params, "delete")
        del self.messages[message["chat"]["id"]][message["message_id"]]
        return True

    def _m_deleteMessages(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        for message_id in params.get("message_ids") or []:
            self.messages.get(chat["id"], {}).pop(message_id, None)
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query = self.callback_queries.get(str(params.get("callback_query_id")))
        if query is None or query.answered:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered = True
        query.answer = dict(params)
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be an array of at most 100 items")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            description = str(command.get("description", "")) if isinstance(command, dict) else ""
            if not _COMMAND_RE.match(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [dict(c) for c in commands]
        return True

    def _m_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(self._commands_key(params), [])

    def _m_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_getChat(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self._chat(params), "accent_color_id": 0, "max_reaction_count": 11}

    def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        info = self.files.get(str(params.get("file_id")))
        if info is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {k: v for k, v in info.items() if k != "content"}

    def _sent_media(self, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        chat = self._chat(params)
        caption, entities = self._formatted(params, "caption")
        markup = self._inline_only(_check_reply_markup(params.get("reply_markup")))
        return self._bot_message(
            chat,
            caption=caption or None,
            caption_entities=entities,
            reply_markup=markup,
            **fields,
        )

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = {**self._new_file("photo", ext="jpg"), "width": 800, "height": 800}
        return self._sent_media(params, photo=[photo])

    def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sent_media(params, document=self._new_file("document"))

    def _m_sendSticker(self, params: dict[str, Any]) -> dict[str, Any]:
        sticker = {
            **self._new_file("sticker", ext="webp"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._sent_media(params, sticker=sticker)

    def _m_sendVoice(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sent_media(params, voice={**self._new_file("voice"), "duration": 1})

    def _m_sendLocation(self, params: dict[str, Any]) -> dict[str, Any]:
        location = {"latitude": params.get("latitude"), "longitude": params.get("longitude")}
        return self._sent_media(params, location=location)

    def _m_sendContact(self, params: dict[str, Any]) -> dict[str, Any]:
        contact = {k: params.get(k) for k in ("phone_number", "first_name")}
        return self._sent_media(params, contact=contact)
