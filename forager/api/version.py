"""The API's version, as the OpenAPI contract and ``/healthz`` state it."""

API_VERSION = "1.0.0"
