"""A second organisation, inserted as rows (bootstrap only makes the first), for the tests that
prove one organisation never sees or changes another's data. Imported by name (tests/server
is on sys.path, see conftest)."""

from __future__ import annotations

from server_constants import PEPPER
from sqlalchemy import insert

from wattprint.server.accounts import create_api_key
from wattprint.server.models import Organisation, Project

CREATED_S = 1_700_000_000.0


def other_organisation(engine) -> tuple[int, int]:
    """(organisation id, project id) of a new organisation "other-lab" with a project "vision"."""
    with engine.begin() as connection:
        other_org = connection.execute(insert(Organisation).values(
            slug="other-lab", name="Other Lab", created_s=CREATED_S
        ).returning(Organisation.id)).scalar_one()
        other_project = connection.execute(insert(Project).values(
            organisation_id=other_org, name="vision", created_s=CREATED_S
        ).returning(Project.id)).scalar_one()
    return other_org, other_project


def key_of(engine, project_id: int, scope: str = "read") -> str:
    """A new API key of ``project_id`` with one scope."""
    with engine.begin() as connection:
        return create_api_key(connection, project_id=project_id, pepper=PEPPER.encode(),
                              now_s=CREATED_S, scopes=(scope,))
