"""Caps on what a submission's cells may print or display, applied as the messages arrive, so
a 200 MB print (or a hundred 2 MB ones) never reaches the notebook, the report or memory."""

from __future__ import annotations

import json

from traitlets import Integer
from traitlets.config import LoggingConfigurable

TRUNCATED = "\n… 输出过长，已截断 (output truncated) …\n"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNCATED


class OutputCaps(LoggingConfigurable):
    """Output caps of ``ExecuteGraded`` (a mixin; options are set as ``c.ExecuteGraded.*``).

    Each cell keeps at most ``max_text_bytes`` of text and ``max_display_bytes`` of rich data,
    and the whole notebook at most ``max_notebook_bytes`` of both, as messages arrive
    (``update_display_data`` included). While ``_discarding`` (a grade cell's probes run),
    nothing is kept.
    """

    max_text_bytes = Integer(
        64 * 1024,
        help="Characters of text output (streams, text results, tracebacks) kept per cell.",
    ).tag(config=True)

    max_display_bytes = Integer(
        2 * 1024 * 1024,
        help="Bytes of rich output (images, HTML) kept per cell.",
    ).tag(config=True)

    max_notebook_bytes = Integer(
        16 * 1024 * 1024,
        help="Bytes of output (text and rich data) kept for the whole notebook; later output "
        "is replaced by a truncation note.",
    ).tag(config=True)

    # Budgets, reset per cell and per notebook by the run (class defaults until then).
    _text_used = _rich_used = _notebook_used = 0
    _text_truncated = _discarding = False

    def _reset_cell_budget(self) -> None:
        self._text_used = 0
        self._rich_used = 0
        self._text_truncated = False

    def _reset_notebook_budget(self) -> None:
        self._notebook_used = 0
        self._discarding = False
        self._reset_cell_budget()

    @staticmethod
    def _sizes(data: dict) -> tuple[int, int]:
        text_size = sum(
            len(v) for k, v in data.items() if k.startswith("text/") and isinstance(v, str)
        )
        rich_size = sum(
            len(v) if isinstance(v, str) else len(json.dumps(v))
            for k, v in data.items()
            if not k.startswith("text/")
        )
        return text_size, rich_size

    def _notebook_room(self) -> int:
        return self.max_notebook_bytes - self._notebook_used

    def output(self, outs, msg, display_id, cell_index):
        if self._discarding:
            return None  # a grade cell's probes: nothing is kept, no display id is recorded
        content = msg.get("content", {})
        msg_type = msg.get("msg_type")
        if msg_type == "stream":
            text = content.get("text", "")
            room = min(self.max_text_bytes - self._text_used, self._notebook_room())
            if len(text) > room:
                if self._text_truncated:
                    return None
                content["text"] = text[: max(room, 0)] + TRUNCATED
                self._text_truncated = True
            self._text_used += len(content["text"])
            self._notebook_used += len(content["text"])
        elif msg_type == "error":
            room = max(min(self.max_text_bytes - self._text_used, self._notebook_room()), 4096)
            content["evalue"] = clip(str(content.get("evalue", "")), room // 2)
            tb, used = [], 0
            for line in content.get("traceback", []):
                line = clip(str(line), room // 2)
                if used + len(line) > room:
                    tb.append(TRUNCATED)
                    break
                tb.append(line)
                used += len(line)
            content["traceback"] = tb
            self._text_used += used
            self._notebook_used += used
        elif msg_type in ("execute_result", "display_data"):
            data = content.get("data", {})
            text_size, rich_size = self._sizes(data)
            if (
                text_size + self._text_used > self.max_text_bytes
                or rich_size + self._rich_used > self.max_display_bytes
                or text_size + rich_size > self._notebook_room()
            ):
                if self._text_truncated:
                    return None
                room = min(self.max_text_bytes - self._text_used, self._notebook_room())
                self._truncate_display(content, room)
                self._text_truncated = True
                text_size, rich_size = len(content["data"]["text/plain"]), 0
            self._text_used += text_size
            self._rich_used += rich_size
            self._notebook_used += text_size + rich_size
        return super().output(outs, msg, display_id, cell_index)

    @staticmethod
    def _truncate_display(content: dict, room: int) -> None:
        plain = content.get("data", {}).get("text/plain", "")
        plain = plain if isinstance(plain, str) else ""
        content["data"] = {"text/plain": plain[: max(room, 0)] + TRUNCATED}
        content["metadata"] = {}

    def _update_display_id(self, display_id, msg):
        # Overrides nbclient's private NotebookClient._update_display_id (pinned in
        # tests/autograder/test_pins.py): ``update_display(...)`` rewrites earlier outputs, so
        # the new data gets the same caps as any output.
        if self._discarding:
            return
        content = msg.get("content", {})
        text_size, rich_size = self._sizes(content.get("data", {}))
        room = min(self.max_text_bytes, self._notebook_room())
        if text_size > room or rich_size > min(self.max_display_bytes, self._notebook_room()):
            msg = {**msg, "content": dict(content)}
            self._truncate_display(msg["content"], max(room, 0))
        return super()._update_display_id(display_id, msg)
