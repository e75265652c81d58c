"""The light record classes behave as dataclasses, for us and for third-party code."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys

import pytest

from wattprint._struct import FrozenInstanceError, asdict, dataclass, field, field_names, replace


@dataclass(frozen=True, slots=True)
class Inner:
    name: str
    watts: float = 1.5


@dataclass(frozen=True, slots=True)
class Outer:
    run_id: str
    inner: Inner
    tags: dict[str, str] = field(default_factory=dict)
    items: tuple[Inner, ...] = ()
    secret: str | None = field(default=None, repr=False, compare=False)


@dataclass
class Mutable:
    count: int = 0
    seen: list[int] = field(default_factory=list)


def test_init_defaults_and_fresh_factories() -> None:
    a, b = Mutable(), Mutable()
    a.seen.append(1)
    assert b.seen == [] and a.count == 0
    assert Outer("r", Inner("cpu")).inner.watts == 1.5
    with pytest.raises(TypeError):
        Outer("r")  # type: ignore[call-arg]


def test_frozen_slots_eq_hash_repr() -> None:
    one = Outer("r", Inner("cpu"), secret="a")
    two = Outer("r", Inner("cpu"), secret="b")
    assert one == two  # secret is not compared
    assert hash(Inner("cpu")) == hash(Inner("cpu")) and {Inner("a"), Inner("a")} == {Inner("a")}
    assert one != Outer("s", Inner("cpu"))
    assert "secret" not in repr(one) and repr(Inner("gpu", 2.0)) == "Inner(name='gpu', watts=2.0)"
    with pytest.raises(FrozenInstanceError):
        one.run_id = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        one.__dict__  # noqa: B018 - slots: no per-instance dict
    assert Mutable(1) == Mutable(1) and Mutable.__hash__ is None


def test_replace_asdict_field_names() -> None:
    one = Outer("r", Inner("cpu"), items=(Inner("a"),))
    assert replace(one, run_id="s").run_id == "s" and replace(one, run_id="s").inner is one.inner
    assert asdict(one) == {"run_id": "r", "inner": {"name": "cpu", "watts": 1.5}, "tags": {},
                           "items": ({"name": "a", "watts": 1.5},), "secret": None}
    assert field_names(Outer) == ("run_id", "inner", "tags", "items", "secret")


def test_the_real_dataclasses_module_accepts_them() -> None:
    one = Outer("r", Inner("cpu"))
    assert dataclasses.is_dataclass(one)
    assert [f.name for f in dataclasses.fields(one)] == list(field_names(Outer))
    assert dataclasses.replace(one, run_id="s") == replace(one, run_id="s")
    assert dataclasses.asdict(one)["inner"] == {"name": "cpu", "watts": 1.5}


def test_pickle_round_trip() -> None:
    one = Outer("r", Inner("cpu"), tags={"a": "b"})
    assert pickle.loads(pickle.dumps(one)) == one


def test_tracker_import_pulls_in_no_heavy_module() -> None:
    """What makes ``from wattprint import Tracker`` cheap, checked module by module (the time
    itself is measured in benchmarks/bench_import.py)."""
    heavy = ["dataclasses", "inspect", "logging", "typing", "json", "pathlib", "socket",
             "datetime", "difflib", "sqlite3", "psutil", "urllib.parse"]
    code = ("import sys\nfrom wattprint import Tracker\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == ""


def test_often_made_classes_switch_to_a_compiled_init_with_the_same_behaviour() -> None:
    @dataclass(frozen=True, slots=True)
    class Often:
        a: int
        b: list[int] = field(default_factory=list)
        c: str = "x"

    generic = Often.__init__
    made = [Often(i, c=str(i)) for i in range(100)]
    assert Often.__init__ is not generic  # compiled after a few dozen instances
    assert made[99] == Often(99, [], "99") and made[99].b is not made[98].b
    with pytest.raises(TypeError):
        Often()  # type: ignore[call-arg]
    with pytest.raises(FrozenInstanceError):
        made[0].a = 1  # type: ignore[misc]


def test_field_names_of_a_real_dataclass() -> None:
    @dataclasses.dataclass
    class Plain:
        a: int
        b: int = 0

    assert field_names(Plain) == ("a", "b")
