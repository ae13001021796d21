"""Where events come from: Elasticsearch (EQL search API) or local files with the embedded engine."""
