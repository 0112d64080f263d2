"""The fast tier: in-process tests of pure logic (no server, no git push). `pytest tests/fast`."""
