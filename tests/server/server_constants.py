"""What the server tests share besides fixtures: the pepper, the bootstrapped owner, a fixed
intensity. A module of its own, because ``from conftest import ...`` finds whichever test
folder's conftest comes first on sys.path when several folders run together."""

from __future__ import annotations

from wattprint.intensity import Intensity

PEPPER = "test-pepper-not-secret"
OWNER = {"email": "owner@acme.test", "password": "correct horse battery"}


class FixedIntensity:
    name = "fixed"

    def lookup(self, where, start, end):
        return Intensity(360.0, "XX", "test table", 2024)
