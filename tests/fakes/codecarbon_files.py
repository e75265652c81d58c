"""CodeCarbon's emissions.csv headers, written out here by hand from CodeCarbon's EmissionsData
fields (codecarbon/output_methods/emissions_data.py): the tests' spec, never wattprint's own
constant."""

from __future__ import annotations

# CodeCarbon 3.3.2
HEADER_3_3 = (
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,"
    "country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,"
    "codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,"
    "ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
    "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue"
)
