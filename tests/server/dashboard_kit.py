"""What the team server's dashboard tests share: the app on the test's database at a fixed
"now", sending wire objects through the real ingest, a client signed in through the JSON
login, and a read-only key. Imported by name (tests/server is on sys.path, see conftest)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from server_constants import OWNER, PEPPER

from wattprint.server.accounts import create_api_key
from wattprint.server.app import create_app
from wattprint.server.settings import Settings

HTTPS = "https://testserver"  # the session cookie is Secure


def app_at(engine, now_s: float):
    """The app on ``engine``'s database, its wall clock stopped at ``now_s``."""
    return create_app(Settings(db_url=engine.url.render_as_string(hide_password=False),
                               pepper=PEPPER), wall_clock=lambda: now_s)


def ingest(client: TestClient, items: list[dict], api_key: str) -> None:
    """POST ``items`` (wire objects) to the ingest with ``api_key``; it must take them."""
    answer = client.post("/api/v1/ingest", json={"items": items},
                         headers={"Authorization": f"Bearer {api_key}"})
    assert answer.status_code == 200, answer.text


def signed_in(app, email: str = OWNER["email"], password: str = OWNER["password"]) -> TestClient:
    """A client with a session from the JSON login (as the owner unless told)."""
    client = TestClient(app, base_url=HTTPS)
    answer = client.post("/api/v1/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return client


def read_key(engine, org) -> dict[str, str]:
    """Headers with a new read-only key of the organisation's project."""
    with engine.begin() as connection:
        key = create_api_key(connection, project_id=org.project_id, pepper=PEPPER.encode(),
                             now_s=1.0, scopes=("read",))
    return {"Authorization": f"Bearer {key}"}
