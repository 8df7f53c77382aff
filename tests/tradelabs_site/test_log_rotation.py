"""The JSON log rotates by size and keeps a bounded number of old files, with several writers."""

import logging

from tradelabs_site.logging import SharedRotatingFileHandler


def _writer(path, name: str) -> logging.Logger:
    handler = SharedRotatingFileHandler(path, maxBytes=2_000, backupCount=3)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"rotation-test-{name}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_two_writers_share_one_rotating_file_and_lose_no_line(tmp_path):
    path = tmp_path / "tradelabs.jsonl"
    web, worker = _writer(path, "web"), _writer(path, "worker")
    for n in range(200):
        (web if n % 2 else worker).info(f"line {n:04d} " + "x" * 40)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["tradelabs.jsonl", "tradelabs.jsonl.1", "tradelabs.jsonl.2", "tradelabs.jsonl.3"]
    assert all(f.stat().st_size <= 2_000 for f in files)
    kept = [line for f in files for line in f.read_text().splitlines()]
    numbers = sorted(int(line.split()[1]) for line in kept)
    # The newest lines are all there, each once; only what fell past the third old file is gone.
    assert numbers == list(range(numbers[0], 200)) and numbers[0] > 0
    for logger in (web, worker):
        logger.handlers[0].close()


def test_max_bytes_zero_never_rotates(tmp_path):
    path = tmp_path / "tradelabs.jsonl"
    logger = _writer(path, "plain")
    logger.handlers[0].maxBytes = 0
    for n in range(200):
        logger.info(f"line {n:04d} " + "x" * 40)
    assert [f.name for f in tmp_path.iterdir()] == ["tradelabs.jsonl"]
    logger.handlers[0].close()
