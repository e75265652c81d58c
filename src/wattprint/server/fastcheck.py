"""A fast yes/no check of a wire object against its schema, for the ingest hot path.

``jsonschema`` takes about 350 µs per record (most of an ingest's time). :func:`compile_check`
turns a schema into the source of one Python function of plain ``if`` statements (no call per
keyword, no closure chain) and compiles it: about 5 µs per record. It never produces messages:
when it says no, :mod:`.validate` asks ``jsonschema`` why, so errors stay exactly as before.

Only the keywords below are compiled; a schema using any other assertion keyword (such as
``unevaluatedProperties``) is not compiled at all (:func:`compile_check` returns None) and that
type is checked by ``jsonschema`` alone. Semantics follow draft 2020-12 as ``jsonschema``
implements it (an integer-valued float is an ``integer``; a boolean is never a number; ``1``
and ``true`` differ in ``enum``/``const``); tests/server/test_fastcheck.py compares the two on
every object of a real run and on thousands of mutations of them.

The generated source only ever names constants it was given (bounds, key names, sets) through
the function's own namespace, never text taken from the schema, so a schema cannot inject code.
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

# Python's parser refuses more than 20 nested blocks; deeper parts become their own function
_MAX_NESTING = 12

# one expression per JSON type, over the value named {v}
_TYPE_TESTS = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    "boolean": "({v} is True or {v} is False)",
    "null": "{v} is None",
    # exact float and int first: what a JSON parser makes, and the cheapest test
    "number": "(type({v}) is float or type({v}) is int or "
              "(isinstance({v}, (int, float)) and not isinstance({v}, bool)))",
    "integer": "(type({v}) is int or (isinstance({v}, int) and not isinstance({v}, bool)) or "
               "(isinstance({v}, float) and {v}.is_integer()))",
}
_NUMBER = _TYPE_TESTS["number"]


class _Unsupported(Exception):
    pass


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
        return _Compiler().function(node)
    except _Unsupported:
        return None


class _Compiler:
    """Writes one ``def`` per compiled (sub)schema into a source text, then runs it once."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {"_json_equal": _json_equal}
        self.defs: list[str] = []
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, value: Any) -> str:
        """An expression for ``value``: a literal for text and finite numbers (a local
        constant is faster than a global name), else a name in the function's namespace."""
        if (type(value) is str or (type(value) in (int, float) and value == value
                                   and abs(value) != float("inf"))):
            return repr(value)  # repr of these types is a Python literal of the same value
        name = self.fresh("_c")
        self.names[name] = value
        return name

    def function(self, node: Any) -> Check:
        name = self.subfunction(node)
        exec("\n".join(self.defs), self.names)  # our own generated source (see the docstring)
        check: Check = self.names[name]
        return check

    def subfunction(self, node: Any) -> str:
        """A new function for ``node`` (its name); its source is added to ``self.defs``."""
        name = self.fresh("_f")
        body: list[str] = []
        self.emit(node, "v", body, 1)
        self.defs.append("\n".join([f"def {name}(v):", *body, "    return True"]))
        return name

    def emit(self, node: Any, v: str, out: list[str], depth: int) -> None:
        """Lines (at ``depth``) that ``return False`` when the value named ``v`` is invalid."""
        pad = "    " * depth
        if node is True or node == {}:
            return
        if node is False:
            out.append(f"{pad}return False")
            return
        if not isinstance(node, dict):
            raise _Unsupported(repr(node))
        unknown = set(node) - _SUPPORTED - _ANNOTATIONS
        if unknown:
            raise _Unsupported(", ".join(sorted(unknown)))
        if depth > _MAX_NESTING:
            out.append(f"{pad}if not {self.subfunction(node)}({v}): return False")
            return
        known = ""  # the one JSON type already asserted, if any: its guards can go
        if "type" in node:
            names = node["type"] if isinstance(node["type"], list) else [node["type"]]
            if any(name not in _TYPE_TESTS for name in names):
                raise _Unsupported(f"type {names!r}")
            tests = " or ".join(_TYPE_TESTS[name].format(v=v) for name in names) or "False"
            known = names[0] if len(names) == 1 else ""
            if known in ("number", "integer"):  # the bounds in the same test: one statement
                tests = " and ".join([f"({tests})", *self.bounds(node, v)])
            out.append(f"{pad}if not ({tests}): return False")
        if "enum" in node:
            out.append(f"{pad}if not {self.enum(node['enum'], v)}: return False")
        if "const" in node:
            const = node["const"]
            if type(const) is str or const is None:
                test = self.enum([const], v)
            elif type(const) is int:  # the exact match first, else JSON equality decides
                test = (f"((type({v}) is int and {v} == {self.constant(const)}) or "
                        f"_json_equal({v}, {self.constant(const)}))")
            else:
                test = f"_json_equal({v}, {self.constant(const)})"
            out.append(f"{pad}if not {test}: return False")
        self.numeric(node, v, out, pad, known)
        self.string(node, v, out, pad, known)
        self.array(node, v, out, depth)
        self.object(node, v, out, depth, known)
        self.combined(node, v, out, pad)

    def enum(self, options: list[Any], v: str) -> str:
        texts = [o for o in options if isinstance(o, str)]
        if len(texts) + options.count(None) == len(options):
            # the common case, strings (and null): one set lookup; exact str, as _json_equal
            found = f"(type({v}) is str and {v} in {self.constant(frozenset(texts))})"
            return f"({found} or {v} is None)" if None in options else found
        return f"any(_json_equal({v}, o) for o in {self.constant(list(options))})"

    def bounds(self, node: dict[str, Any], v: str) -> list[str]:
        """``v``'s numeric bounds as expressions (``v`` known to be a number)."""
        return [f"({v} {holds} {self.constant(node[key])})"
                for key, holds in (("minimum", ">="), ("maximum", "<="),
                                   ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<"))
                if key in node]

    def numeric(self, node: dict[str, Any], v: str, out: list[str], pad: str,
                known: str) -> None:
        if known in ("number", "integer"):
            return  # tested with the type
        for bound in self.bounds(node, v):
            out.append(f"{pad}if {_NUMBER.format(v=v)} and not {bound}: return False")

    def string(self, node: dict[str, Any], v: str, out: list[str], pad: str,
               known: str) -> None:
        guard = "" if known == "string" else f"isinstance({v}, str) and "
        if "minLength" in node:
            out.append(f"{pad}if {guard}len({v}) < {self.constant(node['minLength'])}: "
                       "return False")
        if "maxLength" in node:
            out.append(f"{pad}if {guard}len({v}) > {self.constant(node['maxLength'])}: "
                       "return False")
        if "pattern" in node:
            import re

            search = self.constant(re.compile(node["pattern"]).search)
            out.append(f"{pad}if {guard}{search}({v}) is None: return False")

    def array(self, node: dict[str, Any], v: str, out: list[str], depth: int) -> None:
        pad = "    " * depth
        if "minItems" in node:
            out.append(f"{pad}if isinstance({v}, list) and len({v}) < "
                       f"{self.constant(node['minItems'])}: return False")
        if "maxItems" in node:
            out.append(f"{pad}if isinstance({v}, list) and len({v}) > "
                       f"{self.constant(node['maxItems'])}: return False")
        if "items" in node:
            inner: list[str] = []
            element = self.fresh("x")
            self.emit(node["items"], element, inner, depth + 2)
            if inner:
                out.append(f"{pad}if isinstance({v}, list):")
                out.append(f"{pad}    for {element} in {v}:")
                out.extend(inner)

    def object(self, node: dict[str, Any], v: str, out: list[str], depth: int,
               known: str) -> None:
        # inside "if isinstance(v, dict):" unless the type check above already returned
        guarded = known != "object"
        pad = "    " * depth
        inner = pad + "    " if guarded else pad
        nested = depth + 1 if guarded else depth
        body: list[str] = []
        required = set(node.get("required", ()))
        if required:
            body.append(f"{inner}if not {v}.keys() >= {self.constant(required)}: return False")
        properties = node.get("properties", {})
        for key, sub in properties.items():
            value = self.fresh("p")
            lines: list[str] = []
            name = self.constant(key)
            if key in required:  # present: the line above returned otherwise
                self.emit(sub, value, lines, nested)
                if lines:
                    body.append(f"{inner}{value} = {v}[{name}]")
            else:
                self.emit(sub, value, lines, nested + 1)
                if lines:
                    body.append(f"{inner}if {name} in {v}:")
                    body.append(f"{inner}    {value} = {v}[{name}]")
            body.extend(lines)
        extra = node.get("additionalProperties", True)
        if extra is False:
            body.append(f"{inner}if not {v}.keys() <= {self.constant(set(properties))}: "
                        "return False")
        elif extra is not True:
            key, value, lines = self.fresh("k"), self.fresh("p"), []
            self.emit(extra, value, lines, nested + 2)
            if lines:
                known = self.constant(set(properties))
                body.append(f"{inner}for {key}, {value} in {v}.items():")
                body.append(f"{inner}    if {key} not in {known}:")
                body.extend(lines)
        for key, names in node.get("dependentRequired", {}).items():
            body.append(f"{inner}if {self.constant(key)} in {v} and not {v}.keys() >= "
                        f"{self.constant(set(names))}: return False")
        if body and guarded:
            out.append(f"{pad}if isinstance({v}, dict):")
        out.extend(body)

    def combined(self, node: dict[str, Any], v: str, out: list[str], pad: str) -> None:
        for sub in node.get("allOf", ()):
            out.append(f"{pad}if not {self.subfunction(sub)}({v}): return False")
        if "anyOf" in node:
            parts = " or ".join(f"{self.subfunction(sub)}({v})" for sub in node["anyOf"])
            out.append(f"{pad}if not ({parts or 'False'}): return False")
        if "oneOf" in node:
            parts = " + ".join(f"{self.subfunction(sub)}({v})" for sub in node["oneOf"])
            out.append(f"{pad}if ({parts or '0'}) != 1: return False")
