"""Seed Keystone as its bootstrap admin; print what was made as JSON on stdout.

Input (JSON on stdin): auth_url, admin_password, octavia_url, password (for every user made
here), projects (names of tenant projects), region.
Made: a `load-balancer` service with public/internal/admin endpoints; projects `service` and
the tenants; user `octavia` (admin + service in `service`, for keystonemiddleware); user
`exporter` (admin in `admin`); user `viewer` (member + reader in the first tenant); an
application credential of `exporter`.
"""

import json
import sys

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client


def get_or_create(manager, name, **kwargs):
    found = [x for x in manager.list() if x.name == name]
    return found[0] if found else manager.create(name=name, **kwargs)


def main() -> None:
    spec = json.load(sys.stdin)
    auth = v3.Password(auth_url=spec["auth_url"], username="admin",
                       password=spec["admin_password"], project_name="admin",
                       user_domain_id="default", project_domain_id="default")
    ks = ks_client.Client(session=ks_session.Session(auth=auth, timeout=30))
    domain = ks.domains.get("default")

    service = get_or_create(ks.services, "octavia", type="load-balancer",
                            description="Octavia")
    for interface in ("public", "internal", "admin"):
        ks.endpoints.create(service=service, url=spec["octavia_url"], interface=interface,
                            region=spec["region"])

    roles = {r.name: r for r in ks.roles.list()}
    for name in ("admin", "member", "reader", "service"):
        if name not in roles:
            roles[name] = ks.roles.create(name=name)
    projects = {"admin": get_or_create(ks.projects, "admin", domain=domain)}
    for name in ("service", *spec["projects"]):
        projects[name] = get_or_create(ks.projects, name, domain=domain)

    def user(name, project, role_names):
        made = ks.users.create(name=name, domain=domain, password=spec["password"],
                               default_project=projects[project])
        for role in role_names:
            ks.roles.grant(roles[role], user=made, project=projects[project])
        return made

    user("octavia", "service", ("admin", "service"))
    exporter = user("exporter", "admin", ("admin",))
    viewer = user("viewer", spec["projects"][0], ("member", "reader"))

    # Application credentials are made by their owner, with a token of the owner.
    owner = v3.Password(auth_url=spec["auth_url"], username="exporter",
                        password=spec["password"], project_name="admin",
                        user_domain_id="default", project_domain_id="default")
    as_owner = ks_client.Client(session=ks_session.Session(auth=owner, timeout=30))
    credential = as_owner.application_credentials.create(
        name="octavia-exporter", user=exporter.id, secret=spec["password"] + "-appcred")

    json.dump({
        "projects": {name: p.id for name, p in projects.items()},
        "users": {"exporter": exporter.id, "viewer": viewer.id},
        "application_credential": {"id": credential.id, "secret": credential.secret},
    }, sys.stdout)


if __name__ == "__main__":
    main()
