"""json.loads and json.dumps for the light commands, without importing json.

`import json` imports `re` (the decoder's and encoder's patterns): about 10 ms, more than everything
else `reminderd statusline` and `reminderd hook` do, which Claude Code waits for after every answer.
CPython's C accelerator `_json`, the scanner and encoder json itself runs, needs none of that. The
results are json's own: the same C code with json's defaults. Anything the fast way does not take
(malformed input, a BOM, UTF-16, an interpreter without `_json`) goes to json itself, which answers
as it always does (ValueError for what is not JSON).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

WHITESPACE = " \t\n\r"  # json.decoder.WHITESPACE


class _Defaults:
    """json.JSONDecoder()'s settings, as the C scanner reads them (NaN and Infinity as json takes them)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, str] = {}


def _scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    try:
        from _json import make_scanner

        return make_scanner(_Defaults)  # type: ignore[arg-type]  # typeshed wants a scanner, json passes a decoder
    except Exception:  # not CPython, or another _json: json itself will do
        return None


_scan = _scanner()


def loads(data: bytes | str) -> Any:
    """json.loads(data): the same value, or the same ValueError / RecursionError."""
    if _scan is not None:
        try:
            text = data if isinstance(data, str) else data.decode("utf-8", "surrogatepass")
            start = len(text) - len(text.lstrip(WHITESPACE))
            value, end = _scan(text, start)
            if end == len(text) or not text[end:].strip(WHITESPACE):
                return value
        except Exception:  # json says what is wrong (the C scanner needs json.decoder loaded to say it)
            pass
    import json

    return json.loads(data)


def _unknown(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, sort_keys: bool = False, compact: bool = False) -> str:
    """json.dumps(value, sort_keys=sort_keys), with separators (",", ":") when `compact`."""
    key_separator, item_separator = (":", ",") if compact else (": ", ", ")
    try:
        from _json import encode_basestring_ascii, make_encoder

        encode = make_encoder({}, _unknown, encode_basestring_ascii, None, key_separator, item_separator,
                              sort_keys, False, True)
    except Exception:  # not CPython, or another _json
        import json

        return json.dumps(value, sort_keys=sort_keys, separators=(item_separator, key_separator))
    return "".join(encode(value, 0))
