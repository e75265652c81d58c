"""wattprint: measure the energy and emissions of computing."""
__version__ = "0.1.0"
