"""hunter: scheduled EQL threat hunts over Elastic Stack data."""

__version__ = "0.1.0"
