"""Which cloud region is this VM in? DMI first, then that one cloud's instance metadata.

The rule that shapes this module: **a laptop or an on-prem server never touches the network.**
The instance metadata services live on a link-local address (169.254.169.254) that nothing
answers outside a cloud, so asking blindly would make every tracker start wait out a timeout
on a blackholed route. Instead we read the SMBIOS/DMI strings the kernel exposes under
``<sys>/class/dmi/id/`` (world-readable, no root needed), and only when they name a cloud do we
ask *that* cloud's metadata service, with a short per-request timeout and a small overall
budget. Every outcome, found or not, comes back as a :class:`CloudDetection` whose ``reason``
says what happened, so ``wattprint doctor`` can explain it.

DMI markers (what each cloud writes, and where that is documented):

- **AWS**: ``sys_vendor`` / ``bios_vendor`` start with ``Amazon EC2`` (Nitro and metal; the
  systemd ``dmi_vendor_table`` keys "Amazon EC2" to Amazon); on Nitro ``board_asset_tag`` holds
  the instance id ``i-...`` (AWS, "Detect whether a host is an EC2 instance"); older Xen
  instances show vendor ``Xen`` with a BIOS version such as ``4.2.amazon``.
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/identify_ec2_instances.html
  https://github.com/systemd/systemd/blob/main/src/basic/virt.c
- **GCP**: ``product_name`` is ``Google Compute Engine`` (vendor and BIOS vendor ``Google``).
  https://cloud.google.com/compute/docs/instances/detect-compute-engine
- **Azure**: ``chassis_asset_tag`` is ``7783-7084-3265-9085-8269-3286-77`` (the tag cloud-init's
  Azure datasource tests for; Microsoft's Azure Automation troubleshooting guide checks the same
  value with ``dmidecode``). "Microsoft Corporation" + "Virtual Machine" alone is *not* enough:
  every Hyper-V guest, on a desk or on-prem, says that.
  https://github.com/canonical/cloud-init/blob/main/cloudinit/sources/azure/identity.py
- **OCI**: ``chassis_asset_tag`` is ``OracleCloud.com``.
  https://docs.cloud-init.io/en/latest/reference/datasources/oracle.html

Metadata endpoints (all plain HTTP on a link-local address; proxies are never used, as Azure
asks explicitly, so the opener is built with an empty ``ProxyHandler``):

- **AWS IMDSv2**: ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``, then
  ``GET /latest/dynamic/instance-identity/document`` with ``X-aws-ec2-metadata-token``; the
  document carries ``region``, ``availabilityZone`` and ``instanceType`` in one round trip (the
  ``meta-data/placement/*`` keys would take three). Documented errors: 400 bad PUT, 401 bad or
  missing token, 403 not allowed or IMDS turned off. When the token PUT is refused (403, 404,
  405) or its answer never arrives (a container behind a PUT-response hop limit of 1), one
  IMDSv1 GET is tried; if IMDSv1 is disabled it answers 401 and the reason says so.
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-identity-documents.html
- **GCP**: ``GET /computeMetadata/v1/instance/zone`` and ``.../machine-type`` with
  ``Metadata-Flavor: Google`` (403 without it); answers ``projects/NUM/zones/ZONE`` and
  ``projects/NUM/machineTypes/TYPE``; the region is the zone less its last ``-x``. We use the
  documented IP form (169.254.169.254) rather than ``metadata.google.internal`` because a DNS
  lookup is not bounded by a socket timeout.
  https://cloud.google.com/compute/docs/metadata/querying-metadata
  https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys
- **Azure IMDS**: ``GET /metadata/instance/compute?api-version=2021-02-01`` with
  ``Metadata: true`` (400 without it); JSON with ``location`` (e.g. ``francecentral``),
  ``vmSize`` and ``zone``.
  https://learn.microsoft.com/en-us/azure/virtual-machines/instance-metadata-service
- **OCI IMDSv2**: ``GET /opc/v2/instance/`` with ``Authorization: Bearer Oracle``; JSON with
  ``canonicalRegionName`` (e.g. ``eu-frankfurt-1``), ``availabilityDomain`` and ``shape``.
  https://docs.oracle.com/en-us/iaas/Content/Compute/Tasks/gettingmetadata.htm

Standard library only (``urllib``): this runs at every tracker start, in every install.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._lazy_re import lazy_re
from .._log import get_logger
from .._struct import dataclass

if TYPE_CHECKING:
    from ..host import HostPaths

__all__ = [
    "DISABLED_REASON",
    "CloudDetection",
    "CloudPlacement",
    "DmiMatch",
    "MetadataEndpoints",
    "cloud_from_dmi",
    "detect_cloud",
    "read_dmi",
]

log = get_logger("wattprint.intensity")

DISABLED_REASON = "cloud metadata lookup disabled (cloud_metadata = false)"
LINK_LOCAL = "http://169.254.169.254"
AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"
OCI_ASSET_TAG = "OracleCloud.com"
AZURE_API_VERSION = "2021-02-01"

#: The DMI files read; all are world-readable (product_uuid and serials are root-only, so unused).
DMI_FILES = (
    "sys_vendor",
    "product_name",
    "bios_vendor",
    "bios_version",
    "chassis_asset_tag",
    "board_vendor",
    "board_asset_tag",
)
_LABELS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure", "oci": "OCI"}
_AWS_INSTANCE_ID = lazy_re(r"^i-[0-9a-f]{8,17}$")
_TOKEN_TTL_S = 60  # the token is used at once; a short life limits what a leak could do
_MAX_BODY_BYTES = 64 * 1024  # the documents we read are a few hundred bytes
_BUDGET_FACTOR = 3  # default overall budget: three requests' worth of timeout


@dataclass(frozen=True, slots=True)
class CloudPlacement:
    """Where the instance runs, as its cloud's metadata service tells it.

    ``cloud`` is "aws", "gcp", "azure" or "oci" (the names of the bundled region table);
    ``region`` is that cloud's region id; ``how`` names the service and call that answered.
    """

    cloud: str
    region: str
    zone: str | None
    instance_type: str | None
    how: str


@dataclass(frozen=True, slots=True)
class CloudDetection:
    """The outcome of :func:`detect_cloud`, found or not, with the reason ``doctor`` prints.

    ``dmi_vendor`` is the DMI ``sys_vendor`` string as read (None without DMI tables);
    ``dmi_cloud`` the cloud the DMI markers name (None when they name none).
    """

    placement: CloudPlacement | None
    reason: str
    dmi_vendor: str | None = None
    dmi_cloud: str | None = None
    elapsed_s: float = 0.0


@dataclass(frozen=True, slots=True)
class MetadataEndpoints:
    """Base URLs of each cloud's metadata service; tests point them at a local fake server."""

    aws: str = LINK_LOCAL
    gcp: str = LINK_LOCAL
    azure: str = LINK_LOCAL
    oci: str = LINK_LOCAL

    @classmethod
    def all_at(cls, base_url: str) -> MetadataEndpoints:
        """Every cloud at one base URL (one fake server emulates them all)."""
        base = base_url.rstrip("/")
        return cls(aws=base, gcp=base, azure=base, oci=base)


@dataclass(frozen=True, slots=True)
class DmiMatch:
    """A cloud named by DMI, and the marker that named it (for the reason text)."""

    cloud: str
    marker: str


# --------------------------------------------------------------------------------------- DMI


def read_dmi(sys_root: Path) -> dict[str, str]:
    """The DMI strings under ``<sys_root>/class/dmi/id``; missing or unreadable files are left
    out (containers often mount a partial /sys)."""
    folder = sys_root / "class" / "dmi" / "id"
    found: dict[str, str] = {}
    for name in DMI_FILES:
        try:
            text = (folder / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found[name] = text.strip()
    return found


def cloud_from_dmi(dmi: Mapping[str, str]) -> DmiMatch | None:
    """The cloud the DMI strings name, or None (see the module docstring for the markers)."""

    def get(key: str) -> str:
        return dmi.get(key, "")

    tag = get("chassis_asset_tag")
    if tag == AZURE_ASSET_TAG:
        return DmiMatch("azure", f"chassis_asset_tag {tag}")
    if tag.lower() == OCI_ASSET_TAG.lower():
        return DmiMatch("oci", f"chassis_asset_tag {tag!r}")
    for key in ("sys_vendor", "bios_vendor", "board_vendor"):
        if get(key).startswith("Amazon EC2"):
            return DmiMatch("aws", f"{key} {get(key)!r}")
    if _AWS_INSTANCE_ID.match(get("board_asset_tag")):
        return DmiMatch("aws", f"board_asset_tag {get('board_asset_tag')!r} (an EC2 instance id)")
    xen = any(get(key).lower().startswith("xen") for key in ("sys_vendor", "bios_vendor"))
    if xen and "amazon" in get("bios_version").lower():
        return DmiMatch("aws", f"Xen with bios_version {get('bios_version')!r}")
    if get("product_name") == "Google Compute Engine":
        return DmiMatch("gcp", "product_name 'Google Compute Engine'")
    # Vendor "Google" alone also names Google-made laptops; with a Google BIOS it is GCE.
    if get("sys_vendor").startswith("Google") and get("bios_vendor").startswith("Google"):
        return DmiMatch("gcp", "sys_vendor and bios_vendor 'Google'")
    return None


def _not_a_cloud_reason(dmi: Mapping[str, str], sys_root: Path) -> str:
    if not dmi:
        return (f"no DMI tables under {sys_root / 'class' / 'dmi' / 'id'} (not Linux, or /sys "
                "not mounted): not a recognised cloud VM, instance metadata not queried")
    vendor = dmi.get("sys_vendor") or "unknown"
    product = dmi.get("product_name") or "unknown"
    text = (f"DMI names no cloud (sys_vendor {vendor!r}, product_name {product!r}): "
            "instance metadata not queried")
    if vendor.startswith("Microsoft") and "virtual" in product.lower():
        text += " (a Hyper-V guest without Azure's chassis asset tag is not treated as Azure)"
    return text


# ------------------------------------------------------------------------------------- HTTP


class _Failure(Exception):
    """A metadata call failed; the message completes "DMI says X but ..."."""


class _Status(_Failure):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _NoAnswer(_Failure):
    """Connected, but no answer came in time (e.g. an IMDSv2 token behind a hop limit)."""


class _Client:
    """Link-local HTTP with a per-request timeout inside an overall deadline."""

    def __init__(self, timeout_s: float, budget_s: float) -> None:
        # Imported here, not at module level: only cloud VMs get this far, so a laptop's
        # tracker start never pays for loading urllib and http.client (~30 ms cold).
        import urllib.request

        self.timeout_s = timeout_s
        self.budget_s = budget_s
        self.deadline = time.monotonic() + budget_s
        # An empty ProxyHandler: HTTP(S)_PROXY must never see link-local metadata requests.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, url: str, *, method: str = "GET", headers: Mapping[str, str]) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(f"the {self.budget_s:g} s budget for metadata requests ran out "
                           f"before {method} {url}")
        timeout = min(self.timeout_s, remaining)
        limit = (f"within {timeout:g} s" if timeout == self.timeout_s
                 else f"before the {self.budget_s:g} s budget for metadata requests ran out")
        import urllib.error
        import urllib.request
        from http.client import HTTPException

        request = urllib.request.Request(url, method=method, headers=dict(headers))
        try:
            with self.opener.open(request, timeout=timeout) as response:
                body: bytes = response.read(_MAX_BODY_BYTES)
                return body
        except urllib.error.HTTPError as exc:
            exc.close()
            raise _Status(exc.code, f"{method} {url} answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:  # could not connect (refused, timeout, no route)
            raise _Failure(f"the metadata service could not be reached ({_why(exc.reason)}; "
                           f"{method} {url})") from None
        except TimeoutError:  # connected, but the answer did not come within the timeout
            raise _NoAnswer(f"the metadata service did not answer {limit} ({method} {url})") \
                from None
        except (OSError, HTTPException) as exc:
            raise _Failure(f"{method} {url} failed: {exc!r}") from None


def _why(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "connection timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return str(reason)


# Failure messages name keys and sizes, never payload values: these documents hold account ids
# and project numbers, and the reasons end up in logs, records and `doctor` output.


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise _Failure(f"{what} is not JSON ({len(body)} bytes)") from None
    if not isinstance(data, dict):
        raise _Failure(f"{what} is not a JSON object (a JSON {type(data).__name__})")
    return data


def _optional(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _required(data: Mapping[str, Any], key: str, what: str) -> str:
    value = _optional(data, key)
    if value is None:
        raise _Failure(f"{what} has no {key!r} (keys: {', '.join(sorted(data)) or 'none'})")
    return value


# ---------------------------------------------------------------------------- the clouds


def _aws(client: _Client, base: str) -> CloudPlacement:
    token_url = f"{base}/latest/api/token"
    document_url = f"{base}/latest/dynamic/instance-identity/document"
    try:
        token = client.call(token_url, method="PUT",
                            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(_TOKEN_TTL_S)})
    except (_Status, _NoAnswer) as exc:
        if isinstance(exc, _Status) and exc.status not in (403, 404, 405):
            raise
        return _aws_v1(client, document_url, why=str(exc))
    headers = {"X-aws-ec2-metadata-token": token.decode("ascii", "replace").strip()}
    body = client.call(document_url, headers=headers)
    return _aws_placement(body, "AWS IMDSv2 instance identity document")


def _aws_v1(client: _Client, document_url: str, *, why: str) -> CloudPlacement:
    """IMDSv1, tried once when the IMDSv2 token could not be had."""
    try:
        body = client.call(document_url, headers={})
    except _Status as exc:
        if exc.status == 401:
            raise _Failure(f"no IMDSv2 token ({why}) and IMDSv1 is disabled (HTTP 401)") from None
        raise _Failure(f"no IMDSv2 token ({why}); IMDSv1 fallback: {exc}") from None
    except _Failure as exc:
        raise _Failure(f"no IMDSv2 token ({why}); IMDSv1 fallback: {exc}") from None
    return _aws_placement(body, f"AWS IMDSv1 instance identity document (IMDSv2: {why})")


def _aws_placement(body: bytes, how: str) -> CloudPlacement:
    what = "the EC2 instance identity document"
    doc = _json_object(body, what)
    return CloudPlacement("aws", _required(doc, "region", what),
                          _optional(doc, "availabilityZone"), _optional(doc, "instanceType"), how)


def _gcp(client: _Client, base: str) -> CloudPlacement:
    headers = {"Metadata-Flavor": "Google"}
    root = f"{base}/computeMetadata/v1/instance"
    zone_path = client.call(f"{root}/zone", headers=headers).decode("utf-8", "replace").strip()
    zone = _last_segment(zone_path, "zones", "instance/zone")
    region = zone.rsplit("-", 1)[0] if "-" in zone else zone
    machine = client.call(f"{root}/machine-type", headers=headers).decode("utf-8", "replace")
    machine_type = _last_segment(machine.strip(), "machineTypes", "instance/machine-type")
    return CloudPlacement("gcp", region, zone, machine_type, "GCP metadata server")


def _last_segment(path: str, collection: str, what: str) -> str:
    """``projects/123/zones/europe-west9-a`` -> ``europe-west9-a``."""
    parts = path.split("/")
    if len(parts) < 2 or parts[-2] != collection or not parts[-1]:
        raise _Failure(f"{what} is not projects/NUM/{collection}/NAME ({len(path)} characters)")
    return parts[-1]


def _azure(client: _Client, base: str) -> CloudPlacement:
    url = f"{base}/metadata/instance/compute?api-version={AZURE_API_VERSION}"
    what = "the Azure IMDS compute document"
    doc = _json_object(client.call(url, headers={"Metadata": "true"}), what)
    # "zone" is "" outside availability zones; _optional turns that into None.
    return CloudPlacement("azure", _required(doc, "location", what), _optional(doc, "zone"),
                          _optional(doc, "vmSize"), f"Azure IMDS (api-version {AZURE_API_VERSION})")


def _oci(client: _Client, base: str) -> CloudPlacement:
    what = "the OCI instance document"
    body = client.call(f"{base}/opc/v2/instance/", headers={"Authorization": "Bearer Oracle"})
    doc = _json_object(body, what)
    return CloudPlacement("oci", _required(doc, "canonicalRegionName", what),
                          _optional(doc, "availabilityDomain"), _optional(doc, "shape"),
                          "OCI IMDSv2")


_ASK: dict[str, Callable[[_Client, str], CloudPlacement]] = {
    "aws": _aws,
    "gcp": _gcp,
    "azure": _azure,
    "oci": _oci,
}


# --------------------------------------------------------------------------------- entry


def detect_cloud(
    *,
    paths: HostPaths,
    endpoints: MetadataEndpoints | None = None,
    timeout_s: float = 0.3,
    enabled: bool = True,
    budget_s: float | None = None,
) -> CloudDetection:
    """Find the cloud placement of this machine, or say why not.

    Reads DMI under ``paths.sys`` first and contacts a metadata service only when DMI names a
    cloud, so non-cloud machines never touch the network. Each request waits at most
    ``timeout_s``; all of them together at most ``budget_s`` (default three timeouts). Never
    raises for a missing or broken service: the answer's ``reason`` explains it.
    """
    start = time.monotonic()
    if not enabled:
        return CloudDetection(None, DISABLED_REASON)
    dmi = read_dmi(paths.sys)
    vendor = dmi.get("sys_vendor")
    match = cloud_from_dmi(dmi)
    if match is None:
        reason = _not_a_cloud_reason(dmi, paths.sys)
        return CloudDetection(None, reason, vendor, None, time.monotonic() - start)
    endpoints = endpoints or MetadataEndpoints()
    client = _Client(timeout_s, budget_s if budget_s is not None else _BUDGET_FACTOR * timeout_s)
    said = f"DMI says {_LABELS[match.cloud]} ({match.marker})"
    try:
        placement = _ASK[match.cloud](client, getattr(endpoints, match.cloud).rstrip("/"))
    except _Failure as exc:
        detection = CloudDetection(None, f"{said} but {exc}", vendor, match.cloud,
                                   time.monotonic() - start)
        log.debug("cloud metadata: %s", detection.reason)
        return detection
    where = ", ".join(
        f"{label} {value}"
        for label, value in (("region", placement.region), ("zone", placement.zone),
                             ("instance type", placement.instance_type))
        if value
    )
    return CloudDetection(placement, f"{said}; {placement.how}: {where}", vendor, match.cloud,
                          time.monotonic() - start)
