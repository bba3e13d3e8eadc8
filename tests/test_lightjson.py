"""lightjson answers as json does (json is the oracle): the same value for every JSON text, the same
text for every value, and a ValueError for what json refuses, without importing json on the way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reminderd import lightjson

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def outcome(load: Any, data: bytes | str) -> tuple[str, str]:
    """What a loader makes of `data`: the value (as json writes it, so NaN equals NaN), or the error's kind."""
    try:
        return "value", json.dumps(load(data), sort_keys=True)
    except RecursionError:
        return "error", "RecursionError"
    except ValueError:
        return "error", "ValueError"


@given(values, st.booleans(), st.sampled_from([None, 1]), st.booleans())
def test_the_same_value_and_text_as_json(value: Any, sort_keys: bool, indent: int | None, as_bytes: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    data = text.encode() if as_bytes else text
    assert outcome(lightjson.loads, data) == outcome(json.loads, data)
    assert lightjson.dumps(value, sort_keys=sort_keys) == json.dumps(value, sort_keys=sort_keys)
    assert lightjson.dumps(value, compact=True) == json.dumps(value, separators=(",", ":"))


JSONISH = '{}[]",:. 0123456789eE+-truefalsnNaInfity\\u\t\n\r\x0c\ufeff'  # near misses are likelier than from any text


@given(st.binary(max_size=40) | st.text(alphabet=JSONISH, max_size=40))
def test_the_same_answer_as_json_for_anything(data: bytes | str) -> None:
    assert outcome(lightjson.loads, data) == outcome(json.loads, data)


@pytest.mark.parametrize("data", [
    b"", b"   ", b"{", b'{"a": 1} x', b'{"a": 1}\n\n', b"\xef\xbb\xbf{}", '\ufeff{}', b"[1,]", b'"\x01"', b"NaN",
    b"-Infinity", b"1e400", b"[" * 100_000 + b"]" * 100_000, '{"a": "\ud800"}'.encode("utf-8", "surrogatepass"),
    json.dumps({"a": "é"}).encode("utf-16"), b'{"a": 1, "a": 2}', b"12345678901234567890123",
    b"\x0c{}", b"{}\x0c", "\u00a0{}", "{}\u2028", b" \t\r\n{} \t\r\n",
])
def test_edge_cases_as_json(data: bytes | str) -> None:
    assert outcome(lightjson.loads, data) == outcome(json.loads, data)


def test_it_does_not_import_json_or_re() -> None:
    code = ("import sys; from reminderd import lightjson; v = lightjson.loads(b'{\"a\": [1, 2.5, null]}'); "
            "t = lightjson.dumps(v, sort_keys=True); print(t, 'json' in sys.modules, 're' in sys.modules)")
    root = str(Path(lightjson.__file__).parent.parent)
    done = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.append({root!r}); {code}"],
                          capture_output=True, text=True, timeout=30, cwd="/")
    assert done.stdout == '{"a": [1, 2.5, null]} False False\n', done.stderr
