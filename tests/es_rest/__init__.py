"""Elasticsearch's YAML REST tests replayed against the test server (``python -m tests.es_rest``)."""
