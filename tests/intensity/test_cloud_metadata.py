"""Cloud detection: DMI decides whether to ask, the metadata services say where.

Everything runs against a fake DMI tree in ``tmp_path`` and a real local HTTP server
(``tests/fakes/metadata_server.py``); nothing leaves 127.0.0.1. The only real sleeps are in the
"slow" tests, where the server waits 0.3 s and the client gives up after 0.05 s.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fakes.metadata_server import FakeMetadataServer  # via tests/intensity/conftest.py
from wattprint.intensity.cloud_metadata import (
    DISABLED_REASON,
    CloudPlacement,
    MetadataEndpoints,
    cloud_from_dmi,
    detect_cloud,
    read_dmi,
)
from wattprint.intensity.locate import resolve_location
from wattprint.sensors import HostPaths

AZURE_TAG = "7783-7084-3265-9085-8269-3286-77"

AWS_NITRO = {"sys_vendor": "Amazon EC2", "product_name": "m5.large", "bios_vendor": "Amazon EC2",
             "bios_version": "1.0", "chassis_asset_tag": "Amazon EC2",
             "board_asset_tag": "i-0af01c0123456789a"}
AWS_XEN = {"sys_vendor": "Xen", "product_name": "HVM domU", "bios_vendor": "Xen",
           "bios_version": "4.2.amazon"}
GCP = {"sys_vendor": "Google", "product_name": "Google Compute Engine", "bios_vendor": "Google",
       "bios_version": "Google", "chassis_asset_tag": ""}
AZURE = {"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine",
         "bios_vendor": "Microsoft Corporation", "chassis_asset_tag": AZURE_TAG}
OCI = {"sys_vendor": "QEMU", "product_name": "Standard PC (i440FX + PIIX, 1996)",
       "bios_vendor": "SeaBIOS", "chassis_asset_tag": "OracleCloud.com"}
LAPTOP = {"sys_vendor": "LENOVO", "product_name": "21CBCTO1WW", "bios_vendor": "LENOVO",
          "chassis_asset_tag": "No Asset Information", "board_vendor": "LENOVO"}
HYPER_V = {"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine",
           "bios_vendor": "Microsoft Corporation", "chassis_asset_tag": "1234-5678-9012"}
ONPREM_KVM = {"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)",
              "bios_vendor": "SeaBIOS", "chassis_asset_tag": ""}
CHROMEBOOK = {"sys_vendor": "Google", "product_name": "Eve", "bios_vendor": "coreboot"}


def dmi_tree(root: Path, files: dict[str, str]) -> HostPaths:
    """A /sys with only the DMI files given, under ``root``."""
    folder = root / "sys" / "class" / "dmi" / "id"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text + "\n")
    return HostPaths(sys=root / "sys", proc=root / "proc", etc=root / "etc")


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY",
                 "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------------------ DMI markers


@pytest.mark.parametrize(
    ("files", "cloud"),
    [
        (AWS_NITRO, "aws"),
        ({"sys_vendor": "Amazon EC2"}, "aws"),
        ({"board_asset_tag": "i-0af01c0123456789a"}, "aws"),
        (AWS_XEN, "aws"),
        (GCP, "gcp"),
        (AZURE, "azure"),
        (OCI, "oci"),
        (LAPTOP, None),
        (HYPER_V, None),
        (ONPREM_KVM, None),
        (CHROMEBOOK, None),
        ({"sys_vendor": "Xen", "bios_version": "4.11.2"}, None),  # Xen, but not Amazon's
        ({}, None),
    ],
)
def test_dmi_markers_name_the_cloud(files: dict[str, str], cloud: str | None) -> None:
    match = cloud_from_dmi(files)
    assert (match.cloud if match else None) == cloud


def test_read_dmi_strips_and_skips_missing_files(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, {"sys_vendor": "  Amazon EC2 ", "product_name": "m5.large"})
    assert read_dmi(paths.sys) == {"sys_vendor": "Amazon EC2", "product_name": "m5.large"}


# ------------------------------------------------------------------------- happy paths


def test_aws_imdsv2_gives_region_zone_and_instance_type(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_NITRO)
    with FakeMetadataServer(aws_region="eu-west-3", aws_zone="eu-west-3c",
                            aws_instance_type="c7g.xlarge") as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))

    assert found.placement == CloudPlacement(
        "aws", "eu-west-3", "eu-west-3c", "c7g.xlarge", "AWS IMDSv2 instance identity document"
    )
    assert found.dmi_cloud == "aws"
    assert found.dmi_vendor == "Amazon EC2"
    assert found.reason == (
        "DMI says AWS (sys_vendor 'Amazon EC2'); AWS IMDSv2 instance identity document: "
        "region eu-west-3, zone eu-west-3c, instance type c7g.xlarge"
    )
    put, get = server.requests
    assert (put.method, put.path) == ("PUT", "/latest/api/token")
    assert put.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "60"
    assert (get.method, get.path) == ("GET", "/latest/dynamic/instance-identity/document")
    assert get.headers["x-aws-ec2-metadata-token"] == "fake-imds-token-1"  # the one issued


def test_aws_on_older_xen_instances(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_XEN)
    with FakeMetadataServer(aws_region="us-east-1", aws_zone="us-east-1d",
                            aws_instance_type="m4.large") as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is not None
    assert (found.placement.region, found.placement.zone) == ("us-east-1", "us-east-1d")
    assert found.dmi_vendor == "Xen"


def test_aws_falls_back_to_imdsv1_when_the_token_call_is_refused(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_NITRO)
    with FakeMetadataServer(token_status=405, imdsv1=True) as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is not None
    assert found.placement.region == "eu-west-3"
    assert found.placement.how.startswith("AWS IMDSv1 instance identity document")
    assert "HTTP 405" in found.placement.how
    assert [(s.method, s.path) for s in server.requests] == [
        ("PUT", "/latest/api/token"), ("GET", "/latest/dynamic/instance-identity/document")]
    assert "x-aws-ec2-metadata-token" not in server.requests[1].headers


def test_aws_token_refused_and_imdsv1_disabled_is_explained(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_NITRO)
    with FakeMetadataServer(token_status=403, imdsv1=False) as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is None
    assert found.reason.startswith("DMI says AWS (sys_vendor 'Amazon EC2') but no IMDSv2 token")
    assert "answered HTTP 403" in found.reason
    assert found.reason.endswith("and IMDSv1 is disabled (HTTP 401)")


def test_gcp_gives_region_from_the_zone(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, GCP)
    with FakeMetadataServer(gcp_zone="europe-west9-a", gcp_machine_type="n2-standard-8") as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement == CloudPlacement(
        "gcp", "europe-west9", "europe-west9-a", "n2-standard-8", "GCP metadata server"
    )
    assert server.paths() == ["/computeMetadata/v1/instance/zone",
                              "/computeMetadata/v1/instance/machine-type"]
    assert all(s.headers["metadata-flavor"] == "Google" for s in server.requests)


def test_gcp_fake_refuses_requests_without_the_flavor_header() -> None:
    with FakeMetadataServer() as server:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/computeMetadata/v1/instance/zone", timeout=2)
    assert refused.value.code == 403
    refused.value.close()


def test_azure_gives_location_size_and_zone(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AZURE)
    with FakeMetadataServer(azure_location="francecentral",
                            azure_vm_size="Standard_NC24ads_A100_v4", azure_zone="2") as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement == CloudPlacement(
        "azure", "francecentral", "2", "Standard_NC24ads_A100_v4",
        "Azure IMDS (api-version 2021-02-01)",
    )
    (seen,) = server.requests
    assert seen.path == "/metadata/instance/compute?api-version=2021-02-01"
    assert seen.headers["metadata"] == "true"


def test_azure_outside_availability_zones_has_no_zone(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AZURE)
    with FakeMetadataServer(azure_location="westeurope", azure_zone="") as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is not None
    assert (found.placement.region, found.placement.zone) == ("westeurope", None)


def test_oci_gives_canonical_region_and_shape(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, OCI)
    with FakeMetadataServer(oci_region="eu-frankfurt-1", oci_shape="BM.GPU.A100-v2.8") as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement == CloudPlacement(
        "oci", "eu-frankfurt-1", "Uocm:EU-FRANKFURT-1-AD-1", "BM.GPU.A100-v2.8", "OCI IMDSv2"
    )
    assert server.requests[0].headers["authorization"] == "Bearer Oracle"


def test_proxy_settings_are_never_used_for_metadata(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    paths = dmi_tree(tmp_path, AZURE)
    with FakeMetadataServer() as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is not None
    assert found.placement.region == "francecentral"


# --------------------------------------------------------------------- no network at all


@pytest.mark.parametrize("files", [LAPTOP, ONPREM_KVM, CHROMEBOOK])
def test_no_cloud_marker_means_no_request_at_all(tmp_path: Path, files: dict[str, str]) -> None:
    paths = dmi_tree(tmp_path, files)
    with FakeMetadataServer() as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert server.requests == []
    assert found.placement is None
    assert found.dmi_cloud is None
    assert found.dmi_vendor == files["sys_vendor"]
    assert found.reason.startswith(f"DMI names no cloud (sys_vendor {files['sys_vendor']!r}")
    assert found.reason.endswith("instance metadata not queried")


def test_hyper_v_without_azure_tag_is_not_azure(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, HYPER_V)
    with FakeMetadataServer() as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert server.requests == []
    assert found.reason.endswith(
        "(a Hyper-V guest without Azure's chassis asset tag is not treated as Azure)")


def test_no_dmi_tables_means_no_request(tmp_path: Path) -> None:
    paths = HostPaths(sys=tmp_path / "sys")  # no class/dmi/id below it
    with FakeMetadataServer() as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert server.requests == []
    assert found.dmi_vendor is None
    assert found.reason.startswith(f"no DMI tables under {tmp_path / 'sys/class/dmi/id'}")


def test_disabled_switch_returns_at_once_without_reading_or_asking(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_NITRO)
    with FakeMetadataServer() as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url),
                             enabled=False)
    assert server.requests == []
    assert found.placement is None
    assert found.reason == DISABLED_REASON == (
        "cloud metadata lookup disabled (cloud_metadata = false)")


# ------------------------------------------------------------------------ failure paths


def test_dmi_says_aws_but_the_service_is_down(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_NITRO)
    with FakeMetadataServer(mode="down") as server:
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is None
    assert found.dmi_cloud == "aws"
    assert found.reason == (
        "DMI says AWS (sys_vendor 'Amazon EC2') but the metadata service could not be reached "
        f"(connection refused; PUT {server.url}/latest/api/token)"
    )


def test_a_slow_service_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_NITRO)
    with FakeMetadataServer(mode="slow", delay_s=0.3) as server:
        started = time.monotonic()
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url),
                             timeout_s=0.05)
        elapsed = time.monotonic() - started
    # token PUT times out, the IMDSv1 fallback times out too: two timeouts, inside the budget
    assert elapsed < 0.25
    assert found.elapsed_s < 0.25
    assert found.placement is None
    assert found.reason.startswith("DMI says AWS (sys_vendor 'Amazon EC2') but no IMDSv2 token "
                                   "(the metadata service did not answer within 0.05 s")


def test_the_overall_budget_caps_several_slow_requests(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, GCP)
    with FakeMetadataServer(mode="slow", delay_s=0.3) as server:
        started = time.monotonic()
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url),
                             timeout_s=0.2, budget_s=0.06)
        elapsed = time.monotonic() - started
    assert elapsed < 0.2  # the budget, not the 0.2 s per-request timeout, decided
    assert found.placement is None
    assert found.reason.startswith(
        "DMI says GCP (product_name 'Google Compute Engine') but the metadata service did not "
        "answer before the 0.06 s budget for metadata requests ran out (GET ")


def test_a_malformed_answer_is_explained(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AZURE)
    with FakeMetadataServer() as server:
        server.azure = {"vmSize": "Standard_D2s_v5"}  # no "location"
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is None
    assert found.reason == (
        f"DMI says Azure (chassis_asset_tag {AZURE_TAG}) but the Azure IMDS compute document "
        "has no 'location' (keys: name, osType, vmSize)")


def test_reasons_never_echo_document_values(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_NITRO)
    with FakeMetadataServer() as server:
        server.aws = {"accountId": "123456789012", "instanceType": "m5.large"}  # no region
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is None
    assert found.reason.endswith(
        "the EC2 instance identity document has no 'region' (keys: accountId, instanceType)")
    assert "123456789012" not in found.reason


def test_a_gcp_zone_of_unexpected_shape_is_explained(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, GCP)
    with FakeMetadataServer() as server:
        server.gcp_zone = ""
        found = detect_cloud(paths=paths, endpoints=MetadataEndpoints.all_at(server.url))
    assert found.placement is None
    assert found.reason == ("DMI says GCP (product_name 'Google Compute Engine') but "
                            "instance/zone is not projects/NUM/zones/NAME (28 characters)")


# ----------------------------------------------------------------- through the location chain


def test_the_location_chain_uses_the_placement(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, AWS_NITRO)
    with FakeMetadataServer(aws_region="eu-west-3", aws_zone="eu-west-3a") as server:
        location = resolve_location(
            country=None, subdivision=None, environ={}, etc=tmp_path / "etc",
            detect_cloud=lambda: detect_cloud(
                paths=paths, endpoints=MetadataEndpoints.all_at(server.url)),
        )
    assert (location.resolved_by, location.cloud, location.cloud_region, location.country) == (
        "cloud-metadata", "aws", "eu-west-3", "FR")


def test_the_location_chain_keeps_the_reason_as_a_note(tmp_path: Path) -> None:
    paths = dmi_tree(tmp_path, LAPTOP)
    location = resolve_location(
        country=None, subdivision=None, environ={"TZ": "Europe/Paris"}, etc=tmp_path / "etc",
        detect_cloud=lambda: detect_cloud(paths=paths,
                                          endpoints=MetadataEndpoints.all_at("http://127.0.0.1:9")),
    )
    assert location.resolved_by == "timezone"
    assert location.notes == (
        "DMI names no cloud (sys_vendor 'LENOVO', product_name '21CBCTO1WW'): "
        "instance metadata not queried",)


@pytest.mark.parametrize(("dmi", "served", "expected"), [
    (AWS_NITRO, {"aws_instance_type": "c7g.xlarge"}, ("aws", "eu-west-3", "c7g.xlarge")),
    (GCP, {"gcp_machine_type": "n2-standard-4"}, ("gcp", "europe-west9", "n2-standard-4")),
    (AZURE, {"azure_vm_size": "Standard_D4as_v4"}, ("azure", "francecentral",
                                                    "Standard_D4as_v4")),
])
def test_the_location_keeps_the_instance_type_the_metadata_named(
        tmp_path: Path, dmi: dict[str, str], served: dict[str, str],
        expected: tuple[str, str, str]) -> None:
    paths = dmi_tree(tmp_path, dmi)
    with FakeMetadataServer(**served) as server:  # type: ignore[arg-type]
        location = resolve_location(
            country=None, subdivision=None, environ={}, etc=tmp_path / "etc",
            detect_cloud=lambda: detect_cloud(
                paths=paths, endpoints=MetadataEndpoints.all_at(server.url)),
        )
    assert (location.cloud, location.cloud_region, location.instance_type) == expected
    assert location.detail.endswith(f"instance type {expected[2]}")
    # a machine fact, not a place: the wire location keeps its documented keys only
    assert "instance_type" not in location.to_dict()
