from tests.client.live import live  # noqa: F401  (fixture)
