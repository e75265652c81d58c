"""A fast yes/no check of a wire object against its schema, for the ingest hot path.

``jsonschema`` takes about 350 µs per record (most of an ingest's time); the closures built
here answer "valid?" for the same schema in a few tens of µs. They never produce messages:
when one says no, :mod:`.validate` asks ``jsonschema`` why, so errors stay exactly as before.

Only the keywords below are compiled; a schema using any other assertion keyword (such as
``unevaluatedProperties``) is not compiled at all (:func:`compile_check` returns None) and that
type is checked by ``jsonschema`` alone. Semantics follow draft 2020-12 as ``jsonschema``
implements it (an integer-valued float is an ``integer``; a boolean is never a number; ``1``
and ``true`` differ in ``enum``/``const``); tests/server/test_fastcheck.py compares the two on
every object of a real run and on thousands of mutations of them.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    Check = Callable[[Any], bool]

__all__ = ["compile_check"]

# keywords that assert nothing (annotations) and may appear anywhere
_ANNOTATIONS = frozenset({"description", "title", "$id", "$schema", "$comment", "default",
                          "examples", "deprecated", "readOnly", "writeOnly"})
_SUPPORTED = frozenset({"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
                        "exclusiveMaximum", "minLength", "maxLength", "pattern", "required",
                        "properties", "additionalProperties", "items", "oneOf", "anyOf",
                        "allOf", "dependentRequired", "minItems", "maxItems"})


class _Unsupported(Exception):
    pass


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": _is_integer,
}


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1; containers compared element by element."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def compile_check(node: Any) -> Check | None:
    """A function telling whether a value is valid against ``node`` (refs already inlined),
    or None when ``node`` uses a keyword this module does not implement."""
    try:
        return _compile(node)
    except _Unsupported:
        return None


def _compile(node: Any) -> Check:
    if node is True or node == {}:
        return lambda v: True
    if node is False:
        return lambda v: False
    if not isinstance(node, dict):
        raise _Unsupported(repr(node))
    unknown = set(node) - _SUPPORTED - _ANNOTATIONS
    if unknown:
        raise _Unsupported(", ".join(sorted(unknown)))
    checks: list[Check] = []
    if "type" in node:
        names = node["type"] if isinstance(node["type"], list) else [node["type"]]
        tests = [_TYPES[name] for name in names]
        checks.append(lambda v: any(test(v) for test in tests))
    if "enum" in node:
        options = list(node["enum"])
        checks.append(lambda v: any(_json_equal(v, option) for option in options))
    if "const" in node:
        const = node["const"]
        checks.append(lambda v: _json_equal(v, const))
    checks += _numeric(node) + _string(node) + _array(node) + _object(node) + _combined(node)

    def check(value: Any) -> bool:
        return all(test(value) for test in checks)

    return check


def _numeric(node: dict[str, Any]) -> list[Check]:
    import operator

    out: list[Check] = []
    for key, holds in (("minimum", operator.ge), ("maximum", operator.le),
                       ("exclusiveMinimum", operator.gt), ("exclusiveMaximum", operator.lt)):
        if key in node:
            out.append(_bounded(holds, node[key]))
    return out


def _bounded(holds: Callable[[Any, Any], Any], bound: Any) -> Check:
    return lambda v: not _is_number(v) or bool(holds(v, bound))


def _string(node: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "minLength" in node:
        low = node["minLength"]
        out.append(lambda v: not isinstance(v, str) or len(v) >= low)
    if "maxLength" in node:
        high = node["maxLength"]
        out.append(lambda v: not isinstance(v, str) or len(v) <= high)
    if "pattern" in node:
        import re

        search = re.compile(node["pattern"]).search
        out.append(lambda v: not isinstance(v, str) or search(v) is not None)
    return out


def _array(node: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "items" in node:
        item = _compile(node["items"])
        out.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    if "minItems" in node:
        low = node["minItems"]
        out.append(lambda v: not isinstance(v, list) or len(v) >= low)
    if "maxItems" in node:
        high = node["maxItems"]
        out.append(lambda v: not isinstance(v, list) or len(v) <= high)
    return out


def _object(node: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "required" in node:
        required = list(node["required"])
        out.append(lambda v: not isinstance(v, dict) or all(k in v for k in required))
    properties = {name: _compile(sub) for name, sub in node.get("properties", {}).items()}
    extra = node.get("additionalProperties", True)
    extra_check = None if extra is True else _compile(extra)
    if properties or extra_check is not None:
        def props(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key, value in v.items():
                test = properties.get(key, extra_check)
                if test is not None and not test(value):
                    return False
            return True

        out.append(props)
    if "dependentRequired" in node:
        dependent = {k: list(names) for k, names in node["dependentRequired"].items()}
        out.append(lambda v: not isinstance(v, dict) or all(
            all(name in v for name in names) for k, names in dependent.items() if k in v))
    return out


def _combined(node: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "allOf" in node:
        parts = [_compile(sub) for sub in node["allOf"]]
        out.append(lambda v: all(part(v) for part in parts))
    if "anyOf" in node:
        any_parts = [_compile(sub) for sub in node["anyOf"]]
        out.append(lambda v: any(part(v) for part in any_parts))
    if "oneOf" in node:
        one_parts = [_compile(sub) for sub in node["oneOf"]]
        out.append(lambda v: sum(1 for part in one_parts if part(v)) == 1)
    return out
