"""Feature: topic trends (``/trends``, ``/api/trends``, its CSV) and "rising now"; docs/trends.md."""
