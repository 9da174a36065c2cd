"""kura.conf and pg_hba.conf rendering (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kura.engines.postgres.render import TlsFiles, effective_settings, quote, render_conf, render_hba
from kura.engines.postgres.types import HbaRule, NodeConfig

SOCK, LOGS = Path("/run/kura/n1"), Path("/var/log/kura/n1")


def conf(settings: dict[str, str], tls: TlsFiles | None = None) -> str:
    cfg = NodeConfig("127.0.0.5", 5432, settings, ())
    return render_conf(cfg, socket_dir=SOCK, log_dir=LOGS, tls=tls, cluster_name="db1")


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


def test_conf_has_kuras_own_settings_after_the_parameter_group() -> None:
    out = lines(conf({"work_mem": "8MB", "port": "9999", "listen_addresses": "*"}))
    assert "work_mem = '8MB'" in out
    assert "port = '5432'" in out and "port = '9999'" not in out
    assert "listen_addresses = '127.0.0.5'" in out and "listen_addresses = '*'" not in out
    assert f"unix_socket_directories = '{SOCK}'" in out
    assert f"log_directory = '{LOGS}'" in out
    assert "logging_collector = 'on'" in out
    assert "log_filename = 'postgresql.log.%Y-%m-%d-%H'" in out
    assert "cluster_name = 'db1'" in out
    assert "ssl = 'off'" in out
    assert out.index("work_mem = '8MB'") < out.index("port = '5432'")


def test_conf_tls_files() -> None:
    tls = TlsFiles(Path("/d/server.crt"), Path("/d/server.key"), Path("/d/ca.crt"))
    out = lines(conf({}, tls))
    assert {"ssl = 'on'", "ssl_cert_file = '/d/server.crt'", "ssl_key_file = '/d/server.key'",
            "ssl_ca_file = '/d/ca.crt'"} <= set(out)


def test_quoting_and_rejections() -> None:
    assert quote("it's") == "'it''s'"
    assert quote("a\\b") == "'a\\\\b'"
    assert quote('"$user", public') == "'\"$user\", public'"
    with pytest.raises(ValueError):
        quote("x\ny")
    with pytest.raises(ValueError):
        conf({"work_mem = 1\nport": "5"})
    with pytest.raises(ValueError):
        conf({"bad name": "1"})


def test_rds_parameters_stay_as_placeholders_and_translate() -> None:
    out = effective_settings({"rds.force_ssl": "1", "rds.logical_replication": "1"})
    assert out == {"rds.force_ssl": "1", "rds.logical_replication": "1", "wal_level": "logical"}
    assert "wal_level" not in effective_settings({"rds.logical_replication": "0"})


RULES = (HbaRule("host", "all", "all", "127.0.0.0/8", "scram-sha-256"),
         HbaRule("hostnossl", "all", "all", "10.0.0.0/8", "scram-sha-256"),
         HbaRule("host", "app db", "app_user", "::1/128", "reject"))


def test_hba_keeps_kuras_local_line_first() -> None:
    out = lines(render_hba(RULES, force_ssl=False))
    assert out[0].split() == ["local", "all", "rdsadmin", "trust"]
    assert out[1].split() == ["local", "replication", "rdsadmin", "trust"]
    assert out[2].split() == ["host", "all", "all", "127.0.0.0/8", "scram-sha-256"]
    assert out[3].split() == ["hostnossl", "all", "all", "10.0.0.0/8", "scram-sha-256"]
    assert out[4].split() == ["host", '"app', 'db"', "app_user", "::1/128", "reject"]


def test_hba_force_ssl_closes_every_plaintext_door() -> None:
    out = lines(render_hba(RULES, force_ssl=True))
    assert [ln.split()[0] for ln in out] == ["local", "local", "hostssl", "hostssl"]


@pytest.mark.parametrize("rule", [HbaRule("host", "all", "all", "0.0.0.0/0 trust\nhost", "trust"),
                                  HbaRule("host", "all", "all", "127.0.0.1/32", "md5"),
                                  HbaRule("bogus", "all", "all", "127.0.0.1/32", "trust"),
                                  HbaRule("host", 'a"b', "all", "127.0.0.1/32", "trust")])
def test_hba_rejects_what_could_inject(rule: HbaRule) -> None:
    with pytest.raises(ValueError):
        render_hba((rule,), force_ssl=False)
