"""First start: templates, demo people (passwords generated and printed once), inventory; or,
without demo data, only the permission roles and an admin."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import DataRow, DataTable, Membership, Role, User, Workflow, WorkflowVersion
from app.routes.workflows import start_roles
from app.security import generate_password, hash_password
from app.services.tables import row_key
from app.settings import Settings
from designer.templates import list_templates, read_template

ROLES = {
    "admin": "Runs the place: publishes workflows, manages people and tokens",
    "designer": "Draws and edits workflow drafts",
    "employee": "Works on tasks",
    "sales": "Reviews large orders",
    "finance": "Captures payments by hand",
    "warehouse": "Picks and packs orders",
    "warehouse_manager": "Leads the warehouse; late picks escalate here",
    "shipping": "Hands parcels to the carrier",
    "support": "Chases late deliveries",
    "manager": "Approves time off and purchases",
    "department_head": "Approves purchases of 1,000 or more",
    "cfo": "Approves purchases of 10,000 or more",
    "purchasing": "Places approved purchase orders",
    "accounts_payable": "Resolves invoices that do not match their order and receipt",
    "it": "Sets up accounts and equipment for new hires",
    "hr": "Handles new hires' paperwork",
}
# every role a shipped workflow hands work to has someone in it, so each can be tried out
DEMO_PEOPLE = [
    ("admin", "Avery Admin", ["admin", "designer", "employee", "manager"]),
    ("dana", "Dana Designer", ["designer", "employee", "hr"]),
    ("sam", "Sam Sales", ["sales", "employee", "purchasing"]),
    ("fiona", "Fiona Finance", ["finance", "employee", "cfo", "accounts_payable"]),
    ("walt", "Walt Warehouse", ["warehouse", "employee"]),
    ("wendy", "Wendy Warehouse", ["warehouse", "employee"]),
    (
        "mia",
        "Mia Manager",
        ["warehouse_manager", "warehouse", "employee", "manager", "department_head"],
    ),
    ("shay", "Shay Shipping", ["shipping", "employee"]),
    ("suki", "Suki Support", ["support", "employee", "it"]),
]
INVENTORY = [
    {"sku": "MUG-01", "warehouse": "Berlin", "name": "Stepwise mug", "on_hand": 120},
    {"sku": "TEE-M", "warehouse": "Berlin", "name": "T-shirt, M", "on_hand": 40},
    {"sku": "TEE-L", "warehouse": "Berlin", "name": "T-shirt, L", "on_hand": 35},
    {"sku": "CAP-01", "warehouse": "Leipzig", "name": "Cap", "on_hand": 0},
    {"sku": "BAG-01", "warehouse": "Leipzig", "name": "Tote bag", "on_hand": 15},
]


def seed(make_session: sessionmaker[Session], settings: Settings) -> dict[str, str]:
    """Load what a first start needs; returns the generated passwords (empty if seeded before)."""
    now = datetime.now(UTC)
    with make_session() as session:
        if session.scalar(select(User.id).limit(1)) is not None:
            return {}
        for name, description in ROLES.items():
            session.add(Role(name=name, description=description))
        passwords: dict[str, str] = {}
        for username, display, roles in DEMO_PEOPLE:
            password = (
                settings.admin_password if username == "admin" and settings.admin_password else None
            )
            password = password or generate_password()
            passwords[username] = password
            user = User(
                username=username,
                display_name=display,
                email=f"{username}@stepwise.example",
                password_hash=hash_password(password),
            )
            session.add(user)
            session.flush()
            session.add_all(Membership(user_id=user.id, role=r) for r in roles)
        for key in list_templates():
            raw = read_template(key)
            session.add(
                Workflow(
                    key=key,
                    name=raw.get("name", key),
                    description=raw.get("description", ""),
                    draft=raw,
                    published_version=1,
                    start_roles=start_roles(raw),
                    created_by="admin",
                    updated_by="admin",
                )
            )
            session.flush()
            session.add(
                WorkflowVersion(workflow_key=key, version=1, definition=raw, published_by="admin")
            )
        table = DataTable(
            name="inventory",
            description="Stock per SKU and warehouse",
            columns=[
                {"name": "sku", "type": "string"},
                {"name": "warehouse", "type": "string"},
                {"name": "name", "type": "string"},
                {"name": "on_hand", "type": "integer"},
            ],
            key_columns=["sku"],
        )
        session.add(table)
        session.flush()
        for row in INVENTORY:
            session.add(
                DataRow(
                    table_name="inventory", row_key=row_key(table, row), values=row, updated_at=now
                )
            )
        session.commit()
    return passwords


PERMISSION_ROLES = ("admin", "designer", "employee")


def bootstrap(make_session: sessionmaker[Session], settings: Settings) -> dict[str, str]:
    """First start without demo data (``STEPWISE_SEED_DEMO=0``): the permission roles and one
    ``admin``, whose password is ``STEPWISE_ADMIN_PASSWORD`` or else generated and returned,
    to be printed once. Nothing when anyone exists already."""
    with make_session() as session:
        if session.scalar(select(User.id).limit(1)) is not None:
            return {}
        for name in PERMISSION_ROLES:
            session.add(Role(name=name, description=ROLES[name]))
        password = settings.admin_password or generate_password()
        admin = User(username="admin", display_name="Admin", password_hash=hash_password(password))
        session.add(admin)
        session.flush()
        session.add_all(Membership(user_id=admin.id, role=r) for r in PERMISSION_ROLES)
        session.commit()
    return {} if settings.admin_password else {"admin": password}
