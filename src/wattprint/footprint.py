"""Beyond operational emissions: embodied hardware emissions, water, and the market-based
figure. Each is reported beside the location-based ``emissions_g``, never added to it.

- Embodied: manufacturing emissions amortised linearly over the hardware's stated lifetime,
  per hour of use (Cloud Carbon Footprint's method and defaults, in the bundled
  ``embodied.csv``): a server's share (the run's CPU share of the host; the whole host in
  machine scope) plus one GPU card per measured GPU. On a known cloud instance type the server
  is the instance's host without its GPUs and the share is the instance's vCPUs of the host's
  (``sensors/data/cloud_instances.csv``) times the run's CPU share of the VM; its GPUs are still
  counted per measured card, as everywhere, so none is counted twice. In a distributed job the
  server is counted once per node: its share is carried by the node's leader (local rank 0,
  which measures the machine-wide devices and whose CPU share is the job's share of the node),
  and the other ranks on that node carry none; each GPU card is carried by the one rank that
  measures it. The job's total, the sum of its ranks' runs, is then one server per node plus
  its GPUs, however many ranks share each node.
- Water: the data centre's water usage effectiveness (litres per kWh of IT energy, as the
  provider publishes it) times the run's IT energy; only where a WUE is known.
- Market-based: the energy covered by the user's renewable contracts counts at 0 g/kWh and the
  rest at the residual-mix intensity (or, when none is given, the location-based intensity,
  which the result says).
"""

from __future__ import annotations

from .records import J_PER_KWH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

    from .sensors.instances import InstanceChoice

__all__ = ["embodied", "market_based", "water"]

HOURS_PER_YEAR = 8766.0  # 365.25 days


def embodied(
    *,
    duration_s: float,
    gpus: int,
    cpu_share: float,
    is_virtual: bool,
    table: Mapping[str, Any],
    carries_server: bool = True,
    instance: InstanceChoice | None = None,
) -> dict[str, Any] | None:
    """Embodied grams CO2e attributable to the run, with the figures and sources used.

    ``carries_server`` is False for a rank of a distributed job that is not its node's leader:
    the leader's run carries the server's share, so this run's is 0 (and says why).
    ``instance`` is the cloud instance type the run is on, when one is named: a known type's
    host and vCPU share replace the whole server; an unknown one is said in the notes.
    """
    server, gpu = table.get("server"), table.get("gpu")
    if server is None or gpu is None:
        return None
    row = instance.row if instance is not None else None
    host_kg = row.platform_embodied_kg if row is not None else None
    host = row if host_kg is not None else None
    server_kg = host_kg if host_kg is not None else server.kg_co2e
    notes = []
    if host is not None:
        # The VM's vCPUs of the host's, times the run's CPU share of the VM (1 in machine scope).
        cpu_share = cpu_share * host.vcpus / host.platform_vcpus
        notes.append(
            f"cloud instance type {host.label} ({instance.source if instance else ''}): "
            f"{host.vcpus} of its host's {host.platform_vcpus} vCPUs, host "
            f"{server_kg:g} kgCO2e without GPUs "
            f"({host.embodied_basis_text()}, {host.embodied_year})")
    elif instance is not None:
        notes.append(instance.warning if row is None and instance.warning else
                     f"instance type {instance.name!r} has no embodied figure in the instance "
                     "table: a whole server's share is used")
    if not carries_server:
        cpu_share = 0.0
    hours = duration_s / 3600.0
    server_g = server_kg * 1000 * cpu_share * hours / (server.lifetime_years * HOURS_PER_YEAR)
    gpu_g = gpu.kg_co2e * 1000 * gpus * hours / (gpu.lifetime_years * HOURS_PER_YEAR)
    if not carries_server:
        notes.append("the server's share is carried by local rank 0 of this node, once for all "
                     "the job's ranks on it; this run carries only the GPUs it measures")
    if host is None and is_virtual and cpu_share >= 1.0:
        notes.append("on a virtual machine the host's size is unknown: the whole server's share "
                     "is counted, an upper bound; set cloud_instance_type to count the "
                     "instance's share of its host")
    source = f"{server.source} ({server.year})"
    if host is not None:
        source = (f"{host.label}: {host.source.split(';')[0]}, embodied "
                  f"{host.embodied_basis} ({host.embodied_year})")
    return {
        "embodied_g": server_g + gpu_g,
        "server_g": server_g,
        "gpu_g": gpu_g,
        "server_kg_co2e": server_kg,
        "gpu_kg_co2e": gpu.kg_co2e,
        "gpus": gpus,
        "cpu_share": cpu_share,
        "lifetime_years": server.lifetime_years,
        "source": f"{source}; {gpu.source} ({gpu.year})",
        "notes": notes,
    }


def water(*, energy_j: float, wue_l_per_kwh: float | None, source: str,
          year: int | None) -> dict[str, Any] | None:
    if wue_l_per_kwh is None:
        return None
    return {"water_l": energy_j / J_PER_KWH * wue_l_per_kwh, "wue_l_per_kwh": wue_l_per_kwh,
            "source": source, "year": year}


def market_based(
    *,
    energy_j: float,
    pue: float,
    location_emissions_g: float,
    renewable_share: float | None,
    residual_g_per_kwh: float | None,
) -> dict[str, Any] | None:
    if renewable_share is None:
        return None
    uncovered_kwh = energy_j * pue / J_PER_KWH * (1.0 - renewable_share)
    if residual_g_per_kwh is not None:
        grams = uncovered_kwh * residual_g_per_kwh
        note = "uncovered energy at the residual-mix intensity given"
    else:
        grams = location_emissions_g * (1.0 - renewable_share)
        note = ("no residual-mix intensity given (residual_g_per_kwh): uncovered energy at the "
                "location-based intensity")
    return {"emissions_g": grams, "renewable_share": renewable_share,
            "residual_g_per_kwh": residual_g_per_kwh, "note": note}
