"""Seed 000, section 1 (Secrets Manager), run verbatim by bash with the real AWS CLI, openssl and jq."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kura_fixture import KuraServer

# Section 1 of seeds/000 as the document has it (1.1 and 1.2), character for character.
SECTION_1 = [
    """\
# RDSのマスターユーザー名とパスワードをSecrets Managerに保存
aws secretsmanager create-secret \\
  --name auratime/rds/master \\
  --description "RDS master credentials for AuraTime" \\
  --secret-string '{
    "username": "auratime_admin",
    "password": "'$(openssl rand -base64 32)'"
  }' \\
  --tags Key=Project,Value=AuraTime Key=Service,Value=RDS

# シークレットのARNを取得
RDS_SECRET_ARN=$(aws secretsmanager describe-secret \\
  --secret-id auratime/rds/master \\
  --query 'ARN' \\
  --output text)
""",
    """\
# アプリケーション用のデータベース認証情報
aws secretsmanager create-secret \\
  --name auratime/rds/app \\
  --description "RDS application credentials for AuraTime" \\
  --secret-string '{
    "username": "auratime_app",
    "password": "'$(openssl rand -base64 32)'"
  }' \\
  --tags Key=Project,Value=AuraTime Key=Service,Value=RDS

APP_SECRET_ARN=$(aws secretsmanager describe-secret \\
  --secret-id auratime/rds/app \\
  --query 'ARN' \\
  --output text)
""",
]

# The later sections read the passwords back like this (2.3 and 2.5).
READ_BACK = """\
echo "master=$(aws secretsmanager get-secret-value --secret-id auratime/rds/master --query SecretString \
--output text | jq -r .password)"
echo "app=$(aws secretsmanager get-secret-value --secret-id auratime/rds/app --query SecretString \
--output text | jq -r .password)"
"""

SEED = next(iter(sorted(Path(__file__).resolve().parents[3].glob("shared/seeds/000_*.txt"))), None)


def _bash(server: KuraServer, script: str) -> str:
    env = server.env
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this venv's aws
    proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.skipif(SEED is None, reason="the seed documents are not next to this checkout")
def test_embedded_text_is_the_seeds() -> None:
    assert SEED is not None
    text = SEED.read_text()
    for block in SECTION_1:
        assert block in text


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("openssl") is None,
                    reason="the seed needs jq and openssl (make install provides them)")
def test_section_1_verbatim(fresh_kura: KuraServer) -> None:
    out = _bash(fresh_kura, "\n".join(SECTION_1) + 'echo "rds=$RDS_SECRET_ARN"\necho "app=$APP_SECRET_ARN"\n')
    arns = dict(line.split("=", 1) for line in out.splitlines() if re.match(r"(rds|app)=arn:", line))
    prefix = f"arn:aws:secretsmanager:{fresh_kura.region}:"
    assert re.fullmatch(re.escape(prefix) + r"\d{12}:secret:auratime/rds/master-[A-Za-z0-9]{6}", arns["rds"])
    assert re.fullmatch(re.escape(prefix) + r"\d{12}:secret:auratime/rds/app-[A-Za-z0-9]{6}", arns["app"])

    read = dict(line.split("=", 1) for line in _bash(fresh_kura, READ_BACK).splitlines())
    sm = fresh_kura.client("secretsmanager")
    for key, name, user in (("master", "auratime/rds/master", "auratime_admin"),
                            ("app", "auratime/rds/app", "auratime_app")):
        value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
        assert value == {"username": user, "password": read[key]}
        assert len(read[key]) == 44 and read[key].endswith("=")  # openssl rand -base64 32
        desc = sm.describe_secret(SecretId=name)
        assert desc["Tags"] == [{"Key": "Project", "Value": "AuraTime"}, {"Key": "Service", "Value": "RDS"}]
        assert desc["Description"].startswith("RDS ")
        assert desc["ARN"] == arns["rds" if key == "master" else "app"]
    assert read["master"] != read["app"]

    # The example, verbatim.
    text = fresh_kura.aws("secretsmanager", "get-secret-value", "--secret-id", "auratime/rds/master",
                          "--query", "SecretString", "--output", "text")
    assert json.loads(text)["username"] == "auratime_admin"
