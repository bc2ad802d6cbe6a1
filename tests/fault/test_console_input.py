"""`temanjiwa chat --jsonl` fed input it cannot use: an error line for each, then it goes on.

Every bad line must get exactly `{"type": "error", …}` and an `await`, never a crash, never
an `engine_error`; a good line afterwards must still be answered by the engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import FIXTURE_CONTENT, ROOT

DEEP = "[" * 100_000 + "]" * 100_000
BAD_LINES = {
    "not json": "halo\n",
    "deep array": DEEP + "\n",
    "deep object": '{"text": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}\n",
    "deep in text": '{"text": ' + DEEP + "}\n",
    "5000-digit number": '{"text": ' + "9" * 5000 + "}\n",
    "5000-digit node": '{"choice": "setuju", "node": ' + "1" * 5000 + "}\n",
    "number node": '{"choice": "setuju", "node": 5}\n',
    "list node": '{"choice": "setuju", "node": ["consent.ask"]}\n',
    "object node": '{"choice": "setuju", "node": {"a": 1}}\n',
    "array line": '["text", "halo"]\n',
    "string line": '"halo"\n',
    "number line": "42\n",
    "null line": "null\n",
    "number text": '{"text": 5}\n',
    "list text": '{"text": ["halo"]}\n',
    "bool choice": '{"choice": true}\n',
    "object media": '{"media": {"kind": "sticker"}}\n',
    "two fields": '{"text": "halo", "choice": "setuju"}\n',
    "no field": '{"oops": 1}\n',
    "lone surrogate": '{"text": "\\ud800 halo"}\n',
    "surrogate node": '{"choice": "setuju", "node": "\\udfff"}\n',
    "NaN text": '{"text": NaN}\n',
}


def chat(tmp_path, lines: list[str], stdin_bytes: bytes = b"") -> tuple[list[dict], str, int]:
    env = dict(os.environ, TEMANJIWA_SECRET="console-test", PYTHONUNBUFFERED="1")
    data = stdin_bytes + "".join(lines).encode("utf-8", "surrogatepass")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", "--db", str(tmp_path / "c.db"),
         "--content", str(FIXTURE_CONTENT)],
        cwd=ROOT, env=env, input=data, capture_output=True, timeout=120,
    )
    out = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    return out, result.stderr.decode("utf-8", "replace"), result.returncode


def turns(out: list[dict]) -> list[list[dict]]:
    """The answer to each input line: what came before each `await` (the first is start-up)."""
    groups, current = [], []
    for obj in out:
        if obj["type"] == "await":
            groups.append(current)
            current = []
        else:
            current.append(obj)
    assert current == [], "output ended without an await"
    return groups[1:]


def test_every_bad_line_gets_an_error_and_the_chat_goes_on(tmp_path):
    """All of them in one session, then a real conversation: each bad line is answered with
    one error, and the resident's state survives the noise."""
    lines = [*BAD_LINES.values(), '{"text": "/start"}\n', '{"choice": "setuju"}\n']
    out, stderr, code = chat(tmp_path, lines)
    assert code == 0 and "Traceback" not in stderr, stderr
    answers = turns(out)
    assert len(answers) == len(lines)
    for answer in answers[: len(BAD_LINES)]:
        assert [o["type"] for o in answer] == ["error"], answer
    assert any(o.get("name") == "consent_given" for o in answers[-1]), answers[-1]


def test_undecodable_bytes_and_an_overlong_line_are_errors(tmp_path):
    too_long = '{"text": "' + "a" * (1024 * 1024 + 10) + '"}\n'
    out, stderr, code = chat(tmp_path, [too_long, '{"text": "/start"}\n'],
                             stdin_bytes=b'{"text": "\xff\xfe halo"}\n')
    assert code == 0 and "Traceback" not in stderr, stderr
    undecodable, long_line, good = turns(out)
    assert [o["type"] for o in undecodable] == ["error"]
    assert [o["type"] for o in long_line] == ["error"] and "longer" in long_line[0]["error"]
    assert good[-1]["node"] == "consent.ask"


def test_a_stale_node_string_is_the_engine_s_business_not_an_error(tmp_path):
    """A well-formed press on a node that does not exist is valid protocol input."""
    out, stderr, code = chat(tmp_path, ['{"text": "/start"}\n',
                                        '{"choice": "setuju", "node": "tidak.ada"}\n'])
    assert code == 0, stderr
    _start, press = turns(out)
    assert press and all(o["type"] == "message" for o in press)
    assert not any(o.get("name") == "engine_error" for o in out)
