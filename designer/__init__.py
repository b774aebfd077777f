"""What the designer needs beyond the engine: templates, sample data, test runs."""

from designer.samples import sample_for
from designer.simulate import Scenario, Simulation, simulate
from designer.templates import TEMPLATES_DIR, list_templates, load_template

__all__ = [
    "TEMPLATES_DIR",
    "Scenario",
    "Simulation",
    "list_templates",
    "load_template",
    "sample_for",
    "simulate",
]
