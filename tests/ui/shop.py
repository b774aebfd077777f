"""Real orders driven through the order workflow by the API, for browser tests to look at."""

from __future__ import annotations

from typing import Any

import httpx

from tests.ui.conftest import Server

ORDER = "order-management"


class Shop:
    """Drives real orders through the order workflow by the API, moving the service's clock."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: dict[str, httpx.Client] = {}

    def as_(self, username: str) -> httpx.Client:
        if username not in self.clients:
            self.clients[username] = self.server.client(username)
        return self.clients[username]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def advance(self, by: str = "PT1S") -> None:
        response = self.as_("admin").post("/api/clock/advance", json={"by": by})
        assert response.status_code == 200, response.text

    def instance(self, instance_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.as_("admin").get(f"/api/instances/{instance_id}").json()
        return found

    def start(self, order_id: str, warehouse: str) -> str:
        data = {
            "order_id": order_id,
            "warehouse": warehouse,
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "items": [{"sku": "MUG-01", "quantity": 1, "price": 12}],
            "total": 12,
            "payment": {"method": "card", "reference": f"pi_{order_id}"},
        }
        started = self.as_("sam").post(f"/api/workflows/{ORDER}/instances", json={"data": data})
        assert started.status_code == 201, started.text
        instance_id: str = started.json()["id"]
        return instance_id

    def task(self, instance_id: str, node: str) -> dict[str, Any]:
        """The open task at ``node``, once the workers got there (each wait runs the outbox)."""
        for _ in range(30):
            page = self.as_("admin").get(
                "/api/tasks", params={"scope": "all", "instance": instance_id, "status": "open"}
            )
            assert page.status_code == 200, page.text
            found = [t for t in page.json()["items"] if t["node"] == node]
            if found:
                task: dict[str, Any] = found[0]
                return task
            self.advance()
        raise AssertionError(f"no open {node} task on {instance_id}: {self.instance(instance_id)}")

    def complete(self, instance_id: str, node: str, who: str, data: dict[str, Any]) -> None:
        task = self.task(instance_id, node)
        moved = self.as_("admin").post(f"/api/tasks/{task['id']}/reassign", json={"user": who})
        assert moved.status_code == 200, moved.text
        done = self.as_(who).post(f"/api/tasks/{task['id']}/complete", json={"data": data})
        assert done.status_code == 200, done.text

    def ship(self, instance_id: str, *, pick_takes: str, picker: str, packer: str) -> None:
        self.task(instance_id, "pick")
        self.advance(pick_takes)
        self.complete(instance_id, "pick", picker, {"picked": True})
        self.advance("PT20M")
        self.complete(instance_id, "pack", packer, {"items_checked": True, "weight_kg": 1.2})
        self.complete(instance_id, "hand_over", "shay", {"handed_over": True})
        assert self.instance(instance_id)["stage"] == "Shipped"

    def deliver(self, instance_id: str) -> None:
        tracking = self.instance(instance_id)["data"]["shipment"]["tracking_number"]
        answer = self.as_("admin").post(
            "/api/messages", json={"message": "delivered", "correlation": tracking, "data": {}}
        )
        assert answer.status_code == 200, answer.text
