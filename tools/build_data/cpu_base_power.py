"""One power definition for cpu_tdp.csv: the base power, never a turbo limit.

Definition (stated in SOURCES.json and the README too)
    ``tdp_w`` is the processor's rated *base* power per socket: Intel's TDP, or from 12th-gen
    Core on, its Processor Base Power (PBP, the same quantity renamed); AMD's default TDP; the
    rated TDP of an Arm server chip. Never Intel's Maximum Turbo Power (MTP, "PL2"), AMD's
    package power tracking limit (PPT) or a configurable-TDP-up figure.

Why a rule is needed
    From 12th-gen Core on, Intel's specification pages list PBP and MTP and no "TDP", and the
    upstream exports took either: CodeCarbon has Core i5-1335U at 55 W (MTP; its PBP is 15 W)
    and Core i7-12700K at 190 W (MTP; PBP 125 W); eco2ai has Core i9-12900KF at 241 W. Intel
    assigns these parts a base power by segment, and every segment's base power is below its
    turbo power, so a figure above the segment's highest base power is a turbo figure.

Correction, in order (each corrected row is listed in SOURCES.json with its reason)
    1. another input's figure for the same model that is within the segment's bound (where the
       inputs disagree, the base figure is the lower one);
    2. the figure of its K/KF or F/non-F twin when that is within bound (Intel gives the twins
       the same base power; the F part only lacks graphics);
    3. the segment's base power where the segment has only one (K/KF 125 W, KS 150 W, HX 55 W,
       P 28 W, T 35 W), or, for U parts, 9 W where the figure is 29 W (the U9 parts' MTP) and
       15 W otherwise;
    4. otherwise the row is dropped: an unknown CPU gets a visible default, a wrong one would not.

Segments (Intel product briefs for the 12th- to 14th-gen Core, Core Ultra series 1 and 2 and
Core series 1 and 2 processors): the highest base power per model suffix in :data:`MAX_BASE_W`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Intel client processors named since the PBP/MTP split (12th-gen Core, late 2021, and later):
# i3/i5/i7/i9-12xxx..14xxx desktop and H/HX parts, i3..i9-12xx/13xx mobile parts, Core Ultra
# 1xx/2xx and Core 3/5/7 1xx/2xx. Group 1 is the segment suffix.
PBP_ERA = re.compile(
    r"^intel core (?:i[3579]-1[2-4]\d{3}|i[3579]-1[23]\d{2}|ultra [3579] \d{3}|[357] \d{3})"
    r"([a-z]*)$"
)

# Highest base power Intel gives a part of each segment (W).
MAX_BASE_W: dict[str, float] = {
    "": 65, "f": 65, "e": 65, "ef": 65,  # desktop and embedded (i3: 60 W, F: 58 W)
    "k": 125, "kf": 125, "ke": 125, "ks": 150,  # unlocked desktop
    "t": 35, "te": 45,  # low-power desktop and embedded
    "h": 45, "hk": 45, "he": 45, "hre": 45, "hl": 45, "hx": 55,  # mobile performance
    "p": 28, "pe": 28, "pre": 28,  # mobile thin
    "u": 15, "ul": 15, "ue": 15, "ure": 15,  # mobile low power (9 W or 15 W)
    "v": 30,  # Core Ultra 200V (17 W, 30 W)
}
# Segments with one base power, used when no input has a base figure.
ONLY_BASE_W: dict[str, float] = {
    "k": 125, "kf": 125, "ke": 125, "ks": 150, "hx": 55, "p": 28, "pe": 28, "pre": 28, "t": 35,
}
U9_MAX_TURBO_W = 29.0  # the 9 W U parts (i5-1230U, i7-1260U, ...) have a 29 W MTP
U9_BASE_W, U15_BASE_W = 9.0, 15.0


def segment(key: str) -> str | None:
    """The Intel segment suffix of a PBP-era client part's name key, else None."""
    m = PBP_ERA.match(key)
    if m is None or m.group(1) not in MAX_BASE_W:
        return None
    return m.group(1)


def is_turbo(key: str, tdp_w: float) -> bool:
    """Whether a figure for this model is above every base power of its segment."""
    seg = segment(key)
    return seg is not None and tdp_w > MAX_BASE_W[seg]


def twin(key: str) -> str:
    """The K/KF or F/non-F twin's key: Intel gives both the same base power."""
    return key[:-1] if key.endswith("f") else key + "f"


@dataclass(frozen=True)
class Correction:
    key: str
    name: str
    was_w: float
    now_w: float | None  # None: dropped
    kind: str  # which step decided: one of KINDS
    reason: str

    def line(self) -> str:
        now = "dropped" if self.now_w is None else f"{self.now_w:g} W"
        return f"{self.name}: {self.was_w:g} W -> {now} ({self.reason})"


KINDS = (
    "another input's base figure",
    "twin's base power",
    "segment's base power",
    "dropped: no base figure",
)


def segment_base(key: str, turbo_w: float) -> tuple[float, str] | None:
    """Step 3: the base power the segment implies, or None where the segment has several."""
    seg = segment(key)
    if seg is None:
        return None
    if seg in ONLY_BASE_W:
        return ONLY_BASE_W[seg], f"the only base power of Intel's '{seg.upper()}' segment"
    if seg in ("u", "ul", "ue", "ure"):
        if turbo_w == U9_MAX_TURBO_W:
            return U9_BASE_W, "29 W is the MTP of Intel's 9 W U parts"
        return U15_BASE_W, "above every U-segment base power (9 W, 15 W); the 15 W class"
    return None
