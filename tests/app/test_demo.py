"""The stand-in payment gateway and carrier a first start points its workflows at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.app.conftest import with_settings


@pytest.fixture
def demo(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(with_settings(settings, demo_systems=True))) as client:
        yield client


def test_the_demo_carrier_labels_once_per_key_and_serves_the_label(demo: Any):
    first = demo.post("/demo/carrier/labels", headers={"Idempotency-Key": "k1"}).json()
    again = demo.post("/demo/carrier/labels", headers={"Idempotency-Key": "k1"}).json()
    assert first == again
    label = demo.get(first["label_url"])
    assert label.status_code == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.content.startswith(b"%PDF-")
    assert label.content.rstrip().endswith(b"%%EOF")
    start = int(label.content.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert label.content[start:].startswith(b"xref")  # a reader finds its table


def test_the_demo_systems_are_not_there_unless_asked_for(app: Any):
    with TestClient(app) as client:
        assert client.get("/demo/label.pdf").status_code == 404
