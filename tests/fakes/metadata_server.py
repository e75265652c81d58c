"""A real local HTTP server that plays the cloud instance metadata services (and an IP
geolocation service), for the cloud-metadata and geoip tests.

One server on 127.0.0.1 (port 0, a daemon thread) answers every cloud's paths, because they do
not overlap: AWS ``/latest/...``, GCP ``/computeMetadata/v1/...``, Azure ``/metadata/...``,
OCI ``/opc/v2/...``, and ``/json`` for geolocation. Each insists on what the real service
insists on, so a client that forgets a header fails here as it would in the cloud:

- AWS IMDSv2: ``PUT /latest/api/token`` needs ``X-aws-ec2-metadata-token-ttl-seconds`` (1 to
  21600, else 400) and refuses ``X-Forwarded-For`` (403); a GET without a valid
  ``X-aws-ec2-metadata-token`` gets 401 unless ``imdsv1=True``; ``token_status`` makes the PUT
  fail with that status (405, 403...) to exercise the IMDSv1 fallback.
- GCP: 403 without ``Metadata-Flavor: Google``; answers carry ``Metadata-Flavor: Google``.
- Azure: 400 without ``Metadata: true`` or without ``api-version``.
- OCI: 401 without ``Authorization: Bearer Oracle``.

``mode="slow"`` sleeps ``delay_s`` before every answer (the only real sleep in the tests: keep
it tiny); ``mode="down"`` closes the listening socket, so connections are refused. Every request
is recorded in ``requests`` so a test can prove that no call was made at all.

    with FakeMetadataServer(aws_region="eu-west-3") as server:
        detect_cloud(paths=..., endpoints=MetadataEndpoints.all_at(server.url))
        assert server.paths() == ["/latest/api/token", ...]
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]


class FakeMetadataServer:
    def __init__(
        self,
        *,
        mode: str = "normal",
        delay_s: float = 0.3,
        aws_region: str = "eu-west-3",
        aws_zone: str = "eu-west-3a",
        aws_instance_type: str = "m5.large",
        imdsv1: bool = False,
        token_status: int | None = None,
        gcp_zone: str = "europe-west9-a",
        gcp_machine_type: str = "n2-standard-4",
        azure_location: str = "francecentral",
        azure_vm_size: str = "Standard_D4s_v5",
        azure_zone: str = "1",
        oci_region: str = "eu-frankfurt-1",
        oci_shape: str = "VM.Standard.E4.Flex",
        oci_domain: str = "Uocm:EU-FRANKFURT-1-AD-1",
        geo_status: int = 200,
        geo_body: str | dict[str, Any] | None = None,
    ) -> None:
        if mode not in ("normal", "slow", "down"):
            raise ValueError(f"mode must be normal, slow or down, not {mode!r}")
        self.mode = mode
        self.delay_s = delay_s
        # The keys of a real instance identity document (AWS's documented example), with
        # placeholder values: the client must pick its three out of the whole document.
        self.aws = {"accountId": "123456789012", "architecture": "x86_64",
                    "availabilityZone": aws_zone, "billingProducts": None,
                    "devpayProductCodes": None, "marketplaceProductCodes": None,
                    "imageId": "ami-0123456789abcdef0", "instanceId": "i-0123456789abcdef0",
                    "instanceType": aws_instance_type, "kernelId": None,
                    "pendingTime": "2026-01-05T09:30:00Z", "privateIp": "10.0.0.12",
                    "ramdiskId": None, "region": aws_region, "version": "2017-09-30"}
        self.imdsv1 = imdsv1
        self.token_status = token_status
        self.gcp_zone = gcp_zone
        self.gcp_machine_type = gcp_machine_type
        # More keys of a real compute document (api-version 2021-02-01), placeholder values.
        self.azure = {"location": azure_location, "vmSize": azure_vm_size, "zone": azure_zone,
                      "azEnvironment": "AzurePublicCloud", "offer": "0001-com-ubuntu-server-jammy",
                      "publisher": "Canonical", "sku": "22_04-lts-gen2",
                      "resourceGroupName": "rg-1",
                      "subscriptionId": "00000000-0000-0000-0000-000000000000",
                      "vmId": "11111111-1111-1111-1111-111111111111", "priority": "Regular"}
        self.oci = {"canonicalRegionName": oci_region, "shape": oci_shape,
                    "availabilityDomain": oci_domain}
        self.geo_status = geo_status
        self.geo_body = geo_body
        self.requests: list[Seen] = []
        self.tokens: set[str] = set()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ----------------------------------------------------------------------- lifecycle

    def __enter__(self) -> FakeMetadataServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        httpd.daemon_threads = True  # a slow answer still sleeping must not block teardown
        self.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        if self.mode == "down":
            httpd.server_close()  # nothing listens: connections are refused
            return self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=1)

    # ------------------------------------------------------------------------- records

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def paths(self) -> list[str]:
        with self._lock:
            return [seen.path for seen in self.requests]

    def new_token(self) -> str:
        with self._lock:
            token = f"fake-imds-token-{len(self.tokens) + 1}"
            self.tokens.add(token)
            return token

    # ------------------------------------------------------------------------- routing

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str],
                                                                                 bytes]:
        """(status, headers, body) for one request; headers are keyed in lower case."""
        route = urlsplit(path).path
        if route.startswith("/latest/"):
            return self._aws(method, route, headers)
        if route.startswith("/computeMetadata/v1/"):
            return self._gcp(route, headers)
        if route.startswith("/metadata/"):
            return self._azure(path, headers)
        if route.startswith("/opc/v2/"):
            return self._oci(route, headers)
        if route == "/json":
            return self._geo()
        return 404, {}, b"not found"

    def _aws(self, method: str, route: str, headers: dict[str, str]) -> tuple[int, dict[str, str],
                                                                               bytes]:
        if route == "/latest/api/token":
            if method != "PUT":
                return 405, {}, b""
            if self.token_status is not None:
                return self.token_status, {}, b""
            if "x-forwarded-for" in headers:
                return 403, {}, b""
            ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
            if not (ttl.isdigit() and 1 <= int(ttl) <= 21600):
                return 400, {}, b""
            return 200, {"X-aws-ec2-metadata-token-ttl-seconds": ttl}, self.new_token().encode()
        token = headers.get("x-aws-ec2-metadata-token")
        if token is not None and token not in self.tokens:
            return 401, {}, b""
        if token is None and not self.imdsv1:
            return 401, {}, b""
        if route == "/latest/dynamic/instance-identity/document":
            return 200, {"Content-Type": "text/plain"}, json.dumps(self.aws).encode()
        return 404, {}, b""

    def _gcp(self, route: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("metadata-flavor") != "Google":
            return 403, {}, b"Missing required header: Metadata-Flavor"
        flavor = {"Metadata-Flavor": "Google", "Content-Type": "application/text"}
        if route == "/computeMetadata/v1/instance/zone":
            return 200, flavor, f"projects/123456789012/zones/{self.gcp_zone}".encode()
        if route == "/computeMetadata/v1/instance/machine-type":
            body = f"projects/123456789012/machineTypes/{self.gcp_machine_type}"
            return 200, flavor, body.encode()
        return 404, flavor, b""

    def _azure(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        if headers.get("metadata") != "true":
            return 400, {}, json.dumps({"error": "Bad request. Required metadata header not "
                                                 "specified"}).encode()
        if "api-version" not in parse_qs(parts.query):
            return 400, {}, json.dumps({"error": "Bad request. api-version was not specified"
                                        }).encode()
        if parts.path == "/metadata/instance/compute":
            body = dict(self.azure, name="vm-1", osType="Linux")
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 404, {}, b""

    def _oci(self, route: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("authorization") != "Bearer Oracle":
            return 401, {}, b""
        if route == "/opc/v2/instance/":
            body = dict(self.oci, region="fra", displayName="vm-1")
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 404, {}, b""

    def _geo(self) -> tuple[int, dict[str, str], bytes]:
        body = self.geo_body
        if body is None:
            body = {"ip": "192.0.2.10", "city": "Paris", "region": "Île-de-France",
                    "country": "FR", "loc": "48.8534,2.3488", "timezone": "Europe/Paris"}
        raw = body if isinstance(body, str) else json.dumps(body)
        return self.geo_status, {"Content-Type": "application/json"}, raw.encode()


def _handler_for(server: FakeMetadataServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve("GET")

        def do_PUT(self) -> None:  # noqa: N802
            self._serve("PUT")

        def _serve(self, method: str) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            server.record(Seen(method, self.path, headers))
            length = int(headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            if server.mode == "slow":
                time.sleep(server.delay_s)
            status, extra, body = server.answer(method, self.path, headers)
            try:
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up (a timeout test): nothing to tell it
                pass
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep pytest output clean

    return Handler
