"""Field messages for input that does not validate, in English and Chinese.

pydantic describes each failed field with an error `type` and its context (`max_length`,
`pattern`, …); these become a `Text`, so a Chinese reader sees a whole Chinese message.
Validators of our own raise `InvalidValue` with a `Text` of their own; the sandbox, which may
not import the gateway, raises pydantic errors of its own types (`control_characters`,
`email_address`), worded here.

No text field of a request may hold control characters: NUL and the like are refused by
PostgreSQL, line breaks and bidirectional overrides make stored text display deceptively.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policies.messages import Text

# Control characters, lone surrogates, line and paragraph separators, bidirectional overrides
# (the same set as `sandbox.router.CONTROL_CHARACTERS`).
CONTROL_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


class InvalidValue(ValueError):
    """A validator's rejection with a message in both languages."""

    def __init__(self, message: Text) -> None:
        super().__init__(message.en)
        self.message = message


FALLBACK = Text("This value is not valid here.", "该值无效。")
NO_CONTROL_CHARACTERS = Text(
    "This text must not contain control characters (NUL, line breaks, tabs and the like): "
    "remove them.",
    "此文本不能包含控制字符（如 NUL、换行符、制表符等），请删除。",
)


def has_control_characters(value: object) -> bool:
    """True if `value` (a string, or a list or mapping holding strings) holds a character
    `CONTROL_CHARACTERS` refuses."""
    if isinstance(value, str):
        return CONTROL_CHARACTERS.search(value) is not None
    if isinstance(value, list | tuple | set | frozenset):
        return any(has_control_characters(item) for item in value)
    if isinstance(value, Mapping):
        return any(has_control_characters(k) or has_control_characters(v) for k, v in value.items())
    return False


def plain_text(value: Any) -> Any:
    """A pydantic validator: `value` unless it holds control characters."""
    if has_control_characters(value):
        raise InvalidValue(NO_CONTROL_CHARACTERS)
    return value


BY_TYPE: dict[str, Text] = {
    "missing": Text("This field is required.", "此字段为必填项。"),
    "extra_forbidden": Text(
        "This field is not part of the request: remove it.", "请求不接受此字段，请删除。"
    ),
    "json_invalid": Text("The body is not valid JSON.", "请求体不是合法的 JSON。"),
    "model_attributes_type": Text("This must be a JSON object.", "此处必须是 JSON 对象。"),
    "dict_type": Text("This must be a JSON object.", "此处必须是 JSON 对象。"),
    "model_type": Text("This must be a JSON object.", "此处必须是 JSON 对象。"),
    "list_type": Text("This must be a JSON array.", "此处必须是 JSON 数组。"),
    "string_type": Text("This must be a string.", "此处必须是字符串。"),
    "string_too_short": Text(
        "This must have at least {min_length} characters.", "长度不能少于 {min_length} 个字符。"
    ),
    "string_too_long": Text(
        "This must have at most {max_length} characters.", "长度不能超过 {max_length} 个字符。"
    ),
    "string_pattern_mismatch": Text(
        "This does not have the expected format ({pattern}).", "格式不正确（应匹配 {pattern}）。"
    ),
    "too_short": Text("This must have at least {min_length} items.", "至少需要 {min_length} 项。"),
    "too_long": Text("This must have at most {max_length} items.", "最多只能有 {max_length} 项。"),
    "int_type": Text("This must be an integer.", "此处必须是整数。"),
    "int_parsing": Text("This must be an integer.", "此处必须是整数。"),
    "int_from_float": Text("This must be a whole number.", "此处必须是整数。"),
    "bool_type": Text("This must be true or false.", "此处必须是 true 或 false。"),
    "bool_parsing": Text("This must be true or false.", "此处必须是 true 或 false。"),
    "greater_than": Text("This must be greater than {gt}.", "必须大于 {gt}。"),
    "greater_than_equal": Text("This must be at least {ge}.", "不能小于 {ge}。"),
    "less_than": Text("This must be less than {lt}.", "必须小于 {lt}。"),
    "less_than_equal": Text("This must be at most {le}.", "不能大于 {le}。"),
    "literal_error": Text("This must be one of: {expected}.", "必须是以下之一：{expected_zh}。"),
    "enum": Text("This must be one of: {expected}.", "必须是以下之一：{expected_zh}。"),
    "decimal_type": Text(
        'This must be a decimal string such as "12.30".', '此处必须是十进制字符串，如 "12.30"。'
    ),
    "decimal_parsing": Text(
        'This must be a decimal string such as "12.30".', '此处必须是十进制字符串，如 "12.30"。'
    ),
    "datetime_type": Text(
        "This must be an RFC 3339 timestamp with a time zone.",
        "此处必须是带时区的 RFC 3339 时间。",
    ),
    "datetime_parsing": Text(
        "This must be an RFC 3339 timestamp with a time zone.",
        "此处必须是带时区的 RFC 3339 时间。",
    ),
    "datetime_from_date_parsing": Text(
        "This must be an RFC 3339 timestamp with a time zone.",
        "此处必须是带时区的 RFC 3339 时间。",
    ),
    "timezone_aware": Text("This timestamp must carry a time zone.", "此时间必须带时区。"),
    "date_type": Text("This must be a date (YYYY-MM-DD).", "此处必须是日期（YYYY-MM-DD）。"),
    "date_parsing": Text("This must be a date (YYYY-MM-DD).", "此处必须是日期（YYYY-MM-DD）。"),
    "date_from_datetime_parsing": Text(
        "This must be a date (YYYY-MM-DD).", "此处必须是日期（YYYY-MM-DD）。"
    ),
    "string_unicode": Text("This must be valid UTF-8 text.", "此处必须是合法的 UTF-8 文本。"),
    "url_parsing": Text("This must be an absolute URL.", "此处必须是完整的 URL。"),
    "url_type": Text("This must be an absolute URL.", "此处必须是完整的 URL。"),
    "url_scheme": Text("This URL's scheme is not allowed.", "不允许此 URL 协议。"),
    "control_characters": NO_CONTROL_CHARACTERS,
    "email_address": Text(
        "This must be an e-mail address such as it@school.example.",
        "此处必须是电子邮件地址，如 it@school.example。",
    ),
    "nothing_to_advance": Text(
        "Advance the clock by at least one hour: give days, hours or both.",
        "时钟至少需前进一小时：请提供 days、hours 或两者。",
    ),
}


def field_message(item: Mapping[str, Any]) -> Text:
    """The message for one of pydantic's error items."""
    context = item.get("ctx") or {}
    error = context.get("error")
    if isinstance(error, InvalidValue):
        return error.message
    template = BY_TYPE.get(str(item.get("type", "")))
    if template is not None:
        values = {k: _plain(v) for k, v in context.items()}
        if "expected" in context:
            values["expected_zh"] = "、".join(_choices(str(context["expected"])))
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            pass
    return Text(str(item.get("msg") or FALLBACK.en), FALLBACK.zh)


def _plain(value: object) -> str:
    return str(value).replace("'", "")


def _choices(expected: str) -> list[str]:
    """The values in pydantic's English list of choices ("'a', 'b' or 'c'", or "1, 2 or 3"),
    so that Chinese text can list them in its own way."""
    quoted = re.findall(r"'([^']*)'", expected)
    return quoted or [v for v in re.split(r", | or ", expected) if v]
