"""Settings a cluster deployment needs: Hadoop URIs kept as given, Kafka security options for
both client libraries, the executors' Python, the py-files zip."""

from __future__ import annotations

import zipfile

import pytest

from telemetry import config, kafka_client, kafka_topics, submit_args


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch):
    """The scripts export every setting (make test's too): start these tests from none."""
    for name in (
        "LAMBDA_KAFKA_BOOTSTRAP",
        "LAMBDA_KAFKA_MANAGED",
        "LAMBDA_KAFKA_BROKERS",
        "LAMBDA_KAFKA_REPLICATION_FACTOR",
        "LAMBDA_KAFKA_MIN_INSYNC_REPLICAS",
        "LAMBDA_KAFKA_CLIENT_PROPERTIES",
        "LAMBDA_EXECUTOR_PYTHON",
    ):
        monkeypatch.delenv(name, raising=False)


def test_hadoop_uris_keep_their_double_slash(monkeypatch):
    monkeypatch.setenv("LAMBDA_RAW_DIR", "hdfs://nn:8020/telemetry/raw/")
    monkeypatch.setenv("LAMBDA_CHECKPOINT_DIR", "s3a://bucket/checkpoints")
    settings = config.load()
    assert settings.raw_dir == "hdfs://nn:8020/telemetry/raw"
    assert settings.checkpoint_dir == "s3a://bucket/checkpoints"
    assert config.uri_join(settings.checkpoint_dir, "speed_layer") == (
        "s3a://bucket/checkpoints/speed_layer"
    )
    assert not config.is_local(settings.raw_dir)


def test_bare_paths_become_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAMBDA_RAW_DIR", "data/raw")
    settings = config.load()
    assert settings.raw_dir == str(tmp_path / "data" / "raw")
    assert config.is_local(settings.raw_dir) and config.is_local("file:///data/raw")
    assert config.storage_uri("file:///") == "file:///"


def write(tmp_path, text: str) -> str:
    path = tmp_path / "client.properties"
    path.write_text(text)
    return str(path)


SASL_SSL = """
# a managed Kafka's client settings, as its console gives them
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
    username="telemetry" password="p=a:s\\"s";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/ca.pem
"""


def test_sasl_ssl_reaches_spark_and_the_python_clients(monkeypatch, tmp_path):
    monkeypatch.setenv("LAMBDA_KAFKA_CLIENT_PROPERTIES", write(tmp_path, SASL_SSL))
    settings = config.load()
    spark = kafka_client.spark_options(settings)
    assert spark["kafka.security.protocol"] == "SASL_SSL"
    assert spark["kafka.sasl.jaas.config"].endswith('username="telemetry" password="p=a:s\\"s";')
    assert spark["kafka.ssl.truststore.location"] == "/etc/kafka/ca.pem"
    assert kafka_client.python_options(settings) == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "telemetry",
        "sasl_plain_password": 'p=a:s"s',
        "ssl_cafile": "/etc/kafka/ca.pem",
    }


def test_mutual_tls_with_pem_files(monkeypatch, tmp_path):
    text = (
        "security.protocol: SSL\nssl.keystore.type=PEM\nssl.keystore.location=/k/client.pem\n"
        "ssl.key.password=secret\nssl.endpoint.identification.algorithm=\n"
    )
    monkeypatch.setenv("LAMBDA_KAFKA_CLIENT_PROPERTIES", write(tmp_path, text))
    assert kafka_client.python_options(config.load()) == {
        "security_protocol": "SSL",
        "ssl_certfile": "/k/client.pem",
        "ssl_password": "secret",
        "ssl_check_hostname": False,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ssl.truststore.location=/etc/kafka/ca.jks\n", "PEM"),
        ("security.protocol=SSL\nssl.truststore.certificates=-----BEGIN\n", "no equivalent"),
        ("security.protocol\n", "is not key=value"),
    ],
)
def test_what_the_python_clients_cannot_use_is_named(monkeypatch, tmp_path, text, message):
    monkeypatch.setenv("LAMBDA_KAFKA_CLIENT_PROPERTIES", write(tmp_path, text))
    with pytest.raises(config.ConfigError, match=message):
        kafka_client.python_options(config.load())


def test_a_missing_properties_file_is_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LAMBDA_KAFKA_CLIENT_PROPERTIES", str(tmp_path / "absent"))
    with pytest.raises(config.ConfigError, match="LAMBDA_KAFKA_CLIENT_PROPERTIES"):
        kafka_client.spark_options(config.load())


def test_no_properties_file_means_plaintext(monkeypatch):
    monkeypatch.delenv("LAMBDA_KAFKA_CLIENT_PROPERTIES", raising=False)
    settings = config.load()
    assert kafka_client.spark_options(settings) == {}
    assert kafka_client.python_options(settings) == {}


def test_executors_run_the_python_they_are_given(monkeypatch):
    monkeypatch.delenv("LAMBDA_EXECUTOR_PYTHON", raising=False)
    default = submit_args.confs(config.load())
    assert default["spark.pyspark.python"] == default["spark.pyspark.driver.python"]
    monkeypatch.setenv("LAMBDA_EXECUTOR_PYTHON", "/opt/conda/bin/python3")
    confs = submit_args.confs(config.load())
    assert confs["spark.pyspark.python"] == "/opt/conda/bin/python3"
    assert confs["spark.pyspark.driver.python"] == default["spark.pyspark.driver.python"]


def test_py_files_zip_holds_the_whole_package(monkeypatch, tmp_path):
    monkeypatch.setenv("LAMBDA_HOME", str(tmp_path))
    target = submit_args.py_files(config.load())
    names = zipfile.ZipFile(target).namelist()
    assert "telemetry/config.py" in names and "telemetry/kafka_client.py" in names
    # Its subpackages too: a zip without telemetry/speed/ shadows it for every app submitted.
    assert {"telemetry/speed/__init__.py", "telemetry/speed/app.py"} <= set(names)
    assert [p.name for p in (tmp_path / "dist").iterdir()] == ["telemetry.zip"]


def test_several_local_brokers_replicate_by_default(monkeypatch):
    monkeypatch.delenv("LAMBDA_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("LAMBDA_KAFKA_BROKERS", "3")
    monkeypatch.setenv("LAMBDA_KAFKA_PORT", "37092")
    settings = config.load()
    assert settings.kafka_bootstrap == "127.0.0.1:37092,127.0.0.1:37102,127.0.0.1:37112"
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (3, 2)
    topic = kafka_topics.new_topic("t", settings)
    assert topic.replication_factor == 3 and topic.topic_configs["min.insync.replicas"] == "2"


def test_one_broker_keeps_one_replica(monkeypatch):
    monkeypatch.delenv("LAMBDA_KAFKA_BROKERS", raising=False)
    settings = config.load()
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (1, 1)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAMBDA_KAFKA_REPLICATION_FACTOR": "3"}, "needs as many brokers"),
        (
            {"LAMBDA_KAFKA_BROKERS": "3", "LAMBDA_KAFKA_MIN_INSYNC_REPLICAS": "4"},
            "no write could succeed",
        ),
    ],
)
def test_impossible_replication_is_a_configuration_error(monkeypatch, env, message):
    monkeypatch.delenv("LAMBDA_KAFKA_BOOTSTRAP", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=message):
        config.load()
