"""A second, independent implementation of backoff-core's preset policy, request machine,
Retry-After/HTTP-date rules, error-body rules and retry budget, in Python's standard library,
checked against the conformance vectors in vectors/ (see ../README.md)."""
