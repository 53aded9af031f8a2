from tests.client.live import live  # noqa: F401  (fixture: a real exchange on 127.0.0.1)
