"""Create Octavia's schema in a sqlite file: create_all plus the lookup rows.

`octavia-db-manage upgrade head` stops on sqlite at a migration that alters constraints, so this
does what octavia/tests/functional/db/base.py does instead. Usage: make_octavia_db.py <octavia.conf>
"""

import sys

from octavia.common import config, constants
from octavia.db import api as db_api
from octavia.db import base_models, models
from oslo_config import cfg

LOOKUPS = (
    (constants.SUPPORTED_PROVISIONING_STATUSES, models.ProvisioningStatus),
    (constants.SUPPORTED_HEALTH_MONITOR_TYPES, models.HealthMonitorType),
    (constants.SUPPORTED_LB_ALGORITHMS, models.Algorithm),
    (constants.SUPPORTED_PROTOCOLS, models.Protocol),
    (constants.SUPPORTED_OPERATING_STATUSES, models.OperatingStatus),
    (constants.SUPPORTED_SP_TYPES, models.SessionPersistenceType),
    (constants.SUPPORTED_AMPHORA_ROLES, models.AmphoraRoles),
    (constants.SUPPORTED_LB_TOPOLOGIES, models.LBTopology),
    (constants.SUPPORTED_VRRP_AUTH, models.VRRPAuthMethod),
    (constants.SUPPORTED_L7RULE_TYPES, models.L7RuleType),
    (constants.SUPPORTED_L7RULE_COMPARE_TYPES, models.L7RuleCompareType),
    (constants.SUPPORTED_L7POLICY_ACTIONS, models.L7PolicyAction),
    (constants.SUPPORTED_CLIENT_AUTH_MODES, models.ClientAuthenticationMode),
)


def main() -> None:
    config.init(["--config-file", sys.argv[1]])
    assert cfg.CONF.database.connection.startswith("sqlite:///")
    engine = db_api.get_engine()
    base_models.BASE.metadata.create_all(engine)
    session = db_api.get_session()
    with session.begin():
        for names, model in LOOKUPS:
            for name in names:
                session.add(model(name=name))
        session.flush()
        # Placeholders that DELETED load balancers point at, as in Octavia's own migrations.
        session.add(models.FlavorProfile(
            id=constants.NIL_UUID, name="DELETED-PLACEHOLDER",
            provider_name=constants.DELETED, flavor_data="{}"))
        session.flush()
        session.add(models.Flavor(
            id=constants.NIL_UUID, flavor_profile_id=constants.NIL_UUID,
            name="DELETED-PLACEHOLDER", enabled=False, description="Placeholder"))
        session.flush()
        session.add(models.AvailabilityZoneProfile(
            id=constants.NIL_UUID, name="DELETED-PLACEHOLDER",
            provider_name=constants.DELETED, availability_zone_data="{}"))
        session.flush()
        session.add(models.AvailabilityZone(
            availability_zone_profile_id=constants.NIL_UUID, name=constants.NIL_UUID,
            enabled=False, description="Placeholder"))
    print(len(base_models.BASE.metadata.tables), "tables")


if __name__ == "__main__":
    main()
