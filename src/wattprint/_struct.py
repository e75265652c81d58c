"""Record classes without the import cost of :mod:`dataclasses`.

``dataclasses`` pulls in ``inspect`` (with ``ast``, ``dis`` and ``tokenize``) and builds every
method of every class by compiling source: together about 40 ms of ``from wattprint import
Tracker`` on a small VM, for some forty classes. This module gives the subset we use
(``dataclass(frozen=, slots=, eq=)``, ``field(default=, default_factory=, repr=, compare=)``,
``fields``, ``replace``, ``asdict``) with generic methods, and an ``__init__`` compiled only
for the classes a run instantiates often.

Type checkers see the real :mod:`dataclasses` (below ``TYPE_CHECKING``), so the classes are
checked exactly as dataclasses. At run time they also behave as dataclasses for third-party
code: ``__dataclass_fields__`` is built from real ``dataclasses.Field`` objects the first time
something asks for it, so ``dataclasses.asdict``/``replace``/``is_dataclass`` work too.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dataclasses import FrozenInstanceError as FrozenInstanceError
    from dataclasses import asdict as asdict
    from dataclasses import dataclass as dataclass
    from dataclasses import field as field
    from dataclasses import fields as fields
    from dataclasses import replace as replace

    def field_names(item: object) -> tuple[str, ...]:
        """The field names of a record class or instance, in order."""
        return tuple(f.name for f in fields(item))  # type: ignore[arg-type]
else:
    __all__ = ["FrozenInstanceError", "asdict", "dataclass", "field", "field_names", "fields",
               "replace"]

    _MISSING = object()

    class FrozenInstanceError(AttributeError):
        """Raised on an attempt to assign to a field of a frozen record."""

    class _Spec:
        __slots__ = ("default", "default_factory", "repr", "compare")

        def __init__(self, default, default_factory, repr=True, compare=True):
            self.default = default
            self.default_factory = default_factory
            self.repr = repr
            self.compare = compare

    def field(*, default=_MISSING, default_factory=_MISSING, repr=True, compare=True):
        return _Spec(default, default_factory, repr, compare)

    class _LazyDataclassFields:
        """Real ``dataclasses.Field`` objects, made (and cached on the class) on first use."""

        def __get__(self, instance, owner):
            import dataclasses

            made = {}
            for name, spec in owner.__struct_fields__.items():
                made_field = dataclasses.field(
                    default=dataclasses.MISSING if spec.default is _MISSING else spec.default,
                    default_factory=(dataclasses.MISSING if spec.default_factory is _MISSING
                                     else spec.default_factory),
                    repr=spec.repr, compare=spec.compare)
                made_field.name = name
                made_field.type = owner.__annotations__.get(name)
                made_field._field_type = dataclasses._FIELD  # what fields() filters on
                made[name] = made_field
            type.__setattr__(owner, "__dataclass_fields__", made)
            return made

    def _frozen_setattr(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def _frozen_delattr(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _repr(self):
        items = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__struct_repr__)
        return f"{type(self).__qualname__}({items})"

    def _compared(self):
        return tuple(getattr(self, name) for name in self.__struct_compare__)

    def _eq(self, other):
        if other.__class__ is self.__class__:
            return _compared(self) == _compared(other)
        return NotImplemented

    def _hash(self):
        return hash(_compared(self))

    def _getstate(self):
        return tuple(getattr(self, name) for name in self.__struct_fields__)

    def _setstate(self, state):
        for name, value in zip(self.__struct_fields__, state, strict=True):
            object.__setattr__(self, name, value)

    # Classes instantiated this often get a compiled __init__ (~2x faster per instance): the
    # records a run makes every tick, never the dozens of classes made once or not at all.
    _COMPILE_AFTER = 32

    def _compiled_init(names, specs, frozen):
        params, body, scope = [], [], {"_MISSING": _MISSING, "_set": object.__setattr__}
        for name in names:
            spec = specs[name]
            if spec.default_factory is not _MISSING:
                scope[f"_f_{name}"] = spec.default_factory
                params.append(f"{name}=_MISSING")
                body.append(f"  if {name} is _MISSING: {name} = _f_{name}()")
            elif spec.default is not _MISSING:
                scope[f"_d_{name}"] = spec.default
                params.append(f"{name}=_d_{name}")
            else:
                params.append(name)
        assign = "_set(self, {0!r}, {0})" if frozen else "self.{0} = {0}"
        body += [f"  {assign.format(name)}" for name in names] or ["  pass"]
        source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body)
        exec(source, scope)  # noqa: S102 - source built above from field names only
        return scope["__init__"]

    def _make_init(cls_name, names, specs, frozen, owner):
        # A generic __init__ first: building a class costs microseconds instead of the ~0.5 ms
        # of compiling one, which matters for the ~40 classes on the import path.
        count = len(names)
        known = frozenset(names)
        defaults = {n: s.default for n, s in specs.items() if s.default is not _MISSING}
        factories = {n: s.default_factory for n, s in specs.items()
                     if s.default_factory is not _MISSING}
        put = object.__setattr__ if frozen else setattr
        made = 0

        def __init__(self, *args, **kwargs):
            nonlocal made
            made += 1
            if made == _COMPILE_AFTER and type(self) is owner[0]:
                compiled = _compiled_init(names, specs, frozen)
                compiled.__qualname__ = __init__.__qualname__
                type.__setattr__(owner[0], "__init__", compiled)
            given = len(args)
            if given > count:
                raise TypeError(f"{cls_name}() takes {count} arguments but {given} were given")
            for name, value in zip(names, args, strict=False):  # fewer args than fields
                put(self, name, value)
            for name in names[given:]:
                if name in kwargs:
                    put(self, name, kwargs[name])
                elif name in defaults:
                    put(self, name, defaults[name])
                elif name in factories:
                    put(self, name, factories[name]())
                else:
                    raise TypeError(f"{cls_name}() missing required argument: {name!r}")
            if kwargs and not known.issuperset(kwargs):
                unknown = ", ".join(sorted(set(kwargs) - known))
                raise TypeError(f"{cls_name}() got unexpected keyword arguments: {unknown}")
            if kwargs and given and not set(names[:given]).isdisjoint(kwargs):
                twice = ", ".join(sorted(set(names[:given]) & set(kwargs)))
                raise TypeError(f"{cls_name}() got multiple values for: {twice}")

        return __init__

    def _process(cls, frozen, slots, eq):
        if any("__struct_fields__" in vars(base) for base in cls.__mro__[1:]):
            raise TypeError(f"{cls.__name__}: inheriting record fields is not supported")
        namespace = dict(vars(cls))
        specs = {}
        for name in namespace.get("__annotations__", {}):
            value = namespace.get(name, _MISSING)
            specs[name] = value if isinstance(value, _Spec) else _Spec(value, _MISSING)
        names = tuple(specs)
        for name, spec in specs.items():
            if slots or isinstance(namespace.get(name), _Spec):
                namespace.pop(name, None)
            elif spec.default is not _MISSING:
                namespace[name] = spec.default
        owner = []
        init = _make_init(cls.__name__, names, specs, frozen, owner)
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        namespace.update(__init__=init, __repr__=_repr, __struct_fields__=specs,
                         __struct_repr__=tuple(n for n in names if specs[n].repr),
                         __struct_compare__=tuple(n for n in names if specs[n].compare),
                         __dataclass_fields__=_LazyDataclassFields(), __match_args__=names)
        if eq:
            namespace["__eq__"] = _eq
            namespace["__hash__"] = _hash if frozen else None
        if frozen:
            namespace["__setattr__"] = _frozen_setattr
            namespace["__delattr__"] = _frozen_delattr
        if slots:
            namespace.pop("__dict__", None)
            namespace.pop("__weakref__", None)
            namespace["__slots__"] = names
            namespace["__getstate__"] = _getstate
            namespace["__setstate__"] = _setstate
            cls = type(cls)(cls.__name__, cls.__bases__, namespace)
        else:
            for key, value in namespace.items():
                if key not in ("__dict__", "__weakref__"):
                    type.__setattr__(cls, key, value)
        owner.append(cls)
        return cls

    def dataclass(cls=None, /, *, frozen=False, slots=False, eq=True):
        def wrap(target):
            return _process(target, frozen, slots, eq)

        return wrap if cls is None else wrap(cls)

    def field_names(item):
        names = getattr(item, "__struct_fields__", None)
        return tuple(names if names is not None else item.__dataclass_fields__)  # a real one

    def fields(item):
        return tuple(item.__dataclass_fields__.values())

    def replace(item, /, **changes):
        for name in item.__struct_fields__:
            if name not in changes:
                changes[name] = getattr(item, name)
        return type(item)(**changes)

    _SCALARS = frozenset({str, int, float, bool, type(None)})

    def _plain(value):
        kind = type(value)
        if kind in _SCALARS:
            return value
        if hasattr(kind, "__struct_fields__"):
            return asdict(value)
        if isinstance(value, (list, tuple)):
            return type(value)(_plain(v) for v in value)
        if isinstance(value, dict):
            return {_plain(k): _plain(v) for k, v in value.items()}
        return value

    def asdict(item):
        """Like :func:`dataclasses.asdict` (nested records, lists, tuples and dicts copied)."""
        return {name: _plain(getattr(item, name)) for name in item.__struct_fields__}

