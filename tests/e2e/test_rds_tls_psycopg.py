"""Seed 000's flow through boto3 and psycopg, over TLS verified to the end (`sslmode=verify-full`, the
root from `kura ca-bundle`): the subnet group, a custom parameter group, the master password kept in
Secrets Manager, the instance, the migration, the application user with the seed's GRANTs.

Also what RDS does with TLS and passwords: `rds.force_ssl` is 1 by default from PostgreSQL 15 (plaintext
refused with "no pg_hba.conf entry … no encryption") and a custom parameter group setting it to 0 lets
plaintext in at once (a dynamic parameter); every endpoint serves a certificate for its own address
issued by the CA DescribeDBInstances names; passwords are SCRAM-SHA-256 and the master user is not a
superuser but has CREATEROLE and CREATEDB (it cannot read pg_authid, so the stored verifiers are checked
by what the server asks for: libpq's `require_auth=scram-sha-256`).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from psycopg import sql

from tests.e2e.conftest import ca_bundle, delete_instance, describe, require_postgres16, wait_for
from tests.kura_fixture import KuraServer

IDENT = "tls-db"
GROUP = "tls-postgres16"
MIGRATION = Path(__file__).parent / "data" / "20260101_init.sql"
WAIT_BOUND_S = 40.0
SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # PostgreSQL's SSLRequest packet

# Seed 000 §2.5's grants, as the application's migration tool would send them.
GRANTS = """\
GRANT CONNECT ON DATABASE auratime TO auratime_app;
GRANT USAGE ON SCHEMA public TO auratime_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO auratime_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO auratime_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO auratime_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO auratime_app;
"""


def _secret(server: KuraServer, name: str, username: str) -> str:
    """A Secrets Manager secret as seed 000 §1 makes it; the password as RDS accepts it (no '/')."""
    password = secrets.token_urlsafe(32)
    server.client("secretsmanager").create_secret(
        Name=name, SecretString=json.dumps({"username": username, "password": password}),
        Tags=[{"Key": "Project", "Value": "AuraTime"}])
    return password


def _read_secret(server: KuraServer, name: str) -> str:
    value = server.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    return str(json.loads(value)["password"])


def _network(server: KuraServer) -> tuple[list[str], str]:
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24",
                                 AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for i, zone in ((1, "ap-northeast-1a"), (2, "ap-northeast-1c"))]
    group = ec2.create_security_group(GroupName="tls-rds-sg", Description="RDS", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}])
    return subnets, group


@pytest.fixture(scope="module")
def tls_db(rds_server: KuraServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The instance, made as seed 000 makes it but through boto3; waited for with boto3's own waiter."""
    require_postgres16(rds_server)
    rds = rds_server.client("rds")
    subnets, group = _network(rds_server)
    master = _secret(rds_server, "tls/rds/master", "auratime_admin")
    _secret(rds_server, "tls/rds/app", "auratime_app")
    rds.create_db_subnet_group(DBSubnetGroupName="tls-subnet-group", DBSubnetGroupDescription="TLS test",
                               SubnetIds=subnets)
    rds.create_db_parameter_group(DBParameterGroupName=GROUP, DBParameterGroupFamily="postgres16",
                                  Description="TLS test group")
    bundle: Path | None = None
    try:
        start = time.monotonic()
        rds.create_db_instance(
            DBInstanceIdentifier=IDENT, DBInstanceClass="db.t3.medium", Engine="postgres",
            EngineVersion="16.4", MasterUsername="auratime_admin", MasterUserPassword=master,
            AllocatedStorage=20, StorageType="gp3", StorageEncrypted=True, DBName="auratime",
            DBSubnetGroupName="tls-subnet-group", VpcSecurityGroupIds=[group], DBParameterGroupName=GROUP)
        # boto3 polls at once, in the same process, while the instance is still `creating`: with its
        # default 30 s delay the wait would always last 30 s (test_seed000_rds measures the CLI's).
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=IDENT,
                                                     WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        waited = time.monotonic() - start
        bundle = ca_bundle(rds_server, tmp_path_factory.mktemp("tls") / "kura-ca.pem")
        yield {"db": describe(rds_server, IDENT), "bundle": bundle, "waited": waited}
    finally:
        delete_instance(rds_server, IDENT)
        if bundle is not None:
            shutil.rmtree(bundle.parent, ignore_errors=True)


def _connect(tls_db: dict[str, Any], user: str, password: str, **kw: Any) -> psycopg.Connection[Any]:
    ep = tls_db["db"]["Endpoint"]
    params: dict[str, Any] = {"sslmode": "verify-full", "sslrootcert": str(tls_db["bundle"]),
                              "host": ep["Address"], "port": ep["Port"], **kw}
    return psycopg.connect(user=user, password=password, dbname="auratime", connect_timeout=10,
                           autocommit=True, **params)


def _one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def _set_force_ssl(rds_server: KuraServer, value: str) -> None:
    rds_server.client("rds").modify_db_parameter_group(DBParameterGroupName=GROUP, Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": value, "ApplyMethod": "immediate"}])


def _plaintext(tls_db: dict[str, Any], password: str) -> str | None:
    """None when a plaintext connection is let in, else libpq's error."""
    ep = tls_db["db"]["Endpoint"]
    try:
        psycopg.connect(host=ep["Address"], port=ep["Port"], user="auratime_admin", password=password,
                        dbname="auratime", sslmode="disable", connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        return str(exc)
    return None


# -- tests ----------------------------------------------------------------------------------------------

def test_available_in_seconds(tls_db: dict[str, Any]) -> None:
    print(f"create_db_instance + db_instance_available waiter (1 s delay): {tls_db['waited']:.2f} s")
    assert tls_db["waited"] < WAIT_BOUND_S
    db = tls_db["db"]
    assert db["DBInstanceStatus"] == "available" and db["Endpoint"]["Port"] == 5432
    assert db["Endpoint"]["Address"].startswith("127.") and db["Endpoint"]["Address"] != "127.0.0.1"


@pytest.fixture(scope="module")
def migrated(tls_db: dict[str, Any], rds_server: KuraServer) -> dict[str, str]:
    """§2.5 and §2.6 as the master user over verify-full: the migration, the application user, the row."""
    master = _read_secret(rds_server, "tls/rds/master")
    app = _read_secret(rds_server, "tls/rds/app")
    with _connect(tls_db, "auratime_admin", master) as conn:
        conn.execute(MIGRATION.read_text())  # psql -f, as one simple-protocol script
        conn.execute(sql.SQL("CREATE USER auratime_app WITH PASSWORD {}").format(sql.Literal(app)))
        conn.execute(GRANTS)
        conn.execute("INSERT INTO m_users (id, email, password_hash, created_at, updated_at, created_by, "
                     "updated_by) VALUES (gen_uuid_v7(), 'system-bot@auratime.internal', "
                     "'$2a$10$dummy_hash_for_system_bot', NOW(), NOW(), NULL, NULL) ON CONFLICT DO NOTHING")
    return {"master": master, "app": app}


def test_seed_flow_over_verify_full(tls_db: dict[str, Any], migrated: dict[str, str]) -> None:
    with _connect(tls_db, "auratime_admin", migrated["master"]) as conn:
        assert _one(conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
        assert _one(conn, "SELECT version()").startswith("PostgreSQL 16.")
        assert _one(conn, "SELECT count(*) FROM m_users") == 1
    with _connect(tls_db, "auratime_app", migrated["app"]) as conn:
        assert _one(conn, "SELECT current_user") == "auratime_app"
        assert _one(conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
        bot = _one(conn, "SELECT id FROM m_users WHERE email = 'system-bot@auratime.internal'")
        row = conn.execute("INSERT INTO m_users (email, password_hash, created_by) "
                           "VALUES ('bob@auratime.example', 'x', %s) RETURNING id", (bot,)).fetchone()
        assert row is not None
        new = row[0]
        assert new.version == 7 and bot.version == 7  # gen_uuid_v7()
        conn.execute("INSERT INTO t_audit_logs (user_id, action) VALUES (%s, 'signup')", (new,))
        assert _one(conn, "SELECT count(*) FROM m_users") == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE m_users")


def test_certificate_is_for_the_endpoint_and_issued_by_its_ca(tls_db: dict[str, Any],
                                                              rds_server: KuraServer) -> None:
    db = tls_db["db"]
    address = db["Endpoint"]["Address"]
    ctx = ssl.create_default_context(cafile=str(tls_db["bundle"]))  # checks the IP SAN against `address`
    with socket.create_connection((address, 5432), timeout=10) as raw:
        raw.sendall(SSL_REQUEST)
        assert raw.recv(1) == b"S"
        with ctx.wrap_socket(raw, server_hostname=address) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    leaf = x509.load_der_x509_certificate(der)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert address in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    ca_id = db["CACertificateIdentifier"]
    assert ca_id == "rds-ca-rsa2048-g1" and db["CertificateDetails"]["CAIdentifier"] == ca_id
    described = rds_server.client("rds").describe_certificates(CertificateIdentifier=ca_id)["Certificates"][0]
    cas = x509.load_pem_x509_certificates(tls_db["bundle"].read_bytes())
    ca = next(c for c in cas if c.fingerprint(hashes.SHA1()).hex() == described["Thumbprint"])
    leaf.verify_directly_issued_by(ca)


def test_verify_full_refuses_a_wrong_name_or_a_foreign_ca(tls_db: dict[str, Any], rds_server: KuraServer,
                                                          tmp_path: Path) -> None:
    master = _read_secret(rds_server, "tls/rds/master")
    address = tls_db["db"]["Endpoint"]["Address"]
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        _connect(tls_db, "auratime_admin", master, host="db.example.com", hostaddr=address).close()
    foreign = tmp_path / "foreign.pem"  # a CA that did not issue the endpoint's certificate
    foreign.write_text(ssl.DER_cert_to_PEM_cert(_self_signed_der()))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        _connect(tls_db, "auratime_admin", master, sslrootcert=str(foreign)).close()


def _self_signed_der() -> bytes:
    import datetime as dt

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Not Kura")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_force_ssl_defaults_on_and_a_custom_group_turns_it_off(tls_db: dict[str, Any],
                                                               rds_server: KuraServer) -> None:
    rds = rds_server.client("rds")
    master = _read_secret(rds_server, "tls/rds/master")
    families = {v["DBParameterGroupFamily"] for v in rds.describe_db_engine_versions(Engine="postgres")
                ["DBEngineVersions"]}
    for family in sorted(families):  # RDS: rds.force_ssl defaults to 1 from PostgreSQL 15 on
        pages = rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=f"default.{family}")
        force = next(p for page in pages for p in page["Parameters"] if p["ParameterName"] == "rds.force_ssl")
        assert (force["ParameterValue"], force["ApplyType"], force["IsModifiable"]) == ("1", "dynamic", True)
    refused = _plaintext(tls_db, master)
    assert refused is not None and "no pg_hba.conf entry" in refused and "no encryption" in refused
    try:
        _set_force_ssl(rds_server, "0")
        wait_for(lambda: _plaintext(tls_db, master) is None, 15, "plaintext to be let in (rds.force_ssl=0)")
        ep = tls_db["db"]["Endpoint"]
        with psycopg.connect(host=ep["Address"], port=ep["Port"], user="auratime_admin", password=master,
                             dbname="auratime", sslmode="disable", autocommit=True) as conn:
            assert _one(conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is False
            assert _one(conn, "SHOW rds.force_ssl") == "0"
        with _connect(tls_db, "auratime_admin", master) as conn:  # TLS still offered
            assert _one(conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
        group = describe(rds_server, IDENT)["DBParameterGroups"][0]
        assert group == {"DBParameterGroupName": GROUP, "ParameterApplyStatus": "in-sync"}
    finally:
        _set_force_ssl(rds_server, "1")
    wait_for(lambda: _plaintext(tls_db, master) is not None, 15, "plaintext to be refused again")
    assert describe(rds_server, IDENT)["DBInstanceStatus"] == "available"


def test_scram_passwords_and_an_rds_master_user(tls_db: dict[str, Any], migrated: dict[str, str]) -> None:
    master, app = migrated["master"], migrated["app"]
    if psycopg.pq.version() < 160000:
        pytest.skip("require_auth needs libpq 16 or later")
    with _connect(tls_db, "auratime_admin", master, require_auth="scram-sha-256") as conn:
        assert _one(conn, "SHOW password_encryption") == "scram-sha-256"
        row = _one(conn, "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                         "FROM pg_roles WHERE rolname = current_user")
        assert row == (False, True, True, False, False)
        assert _one(conn, "SELECT pg_has_role('rds_superuser', 'member')") is True
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT rolpassword FROM pg_authid")
        # A role the master user makes now gets a SCRAM verifier too: it logs in under require_auth.
        conn.execute(sql.SQL("CREATE ROLE scram_probe LOGIN PASSWORD {}").format(sql.Literal(app)))
    try:
        _connect(tls_db, "scram_probe", app, require_auth="scram-sha-256").close()
        _connect(tls_db, "auratime_app", app, require_auth="scram-sha-256").close()
        with pytest.raises(psycopg.OperationalError, match=r"(?i)scram|sasl"):
            _connect(tls_db, "auratime_app", app, require_auth="md5").close()
    finally:
        with _connect(tls_db, "auratime_admin", master) as conn:
            conn.execute("DROP ROLE IF EXISTS scram_probe")
