"""s3_lite against botocore itself: the same URL, the same SigV4 signature, the same parsed answers and
error codes, and static keys only where botocore's credential chain would find them first.

botocore is run for real with a `before-send` hook that captures the request it would send and hands
back a canned answer, so nothing leaves the process (the sandbox tier runs both clients against moto).
"""
from __future__ import annotations

import datetime
import os

import pytest

from remote_training.records import s3_lite, storage

WHEN = datetime.datetime(2026, 11, 30, 5, 31, 23, tzinfo=datetime.timezone.utc)
KEYS = s3_lite.Keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
ENDPOINTS = ["http://10.213.0.1:9555", "https://storage.eu-north1.nebius.cloud", "https://s3.example.org:8443",
             "https://storage.eu-north1.nebius.cloud:443"]
CALLS = [
    ("list_objects_v2", {"Bucket": "interim", "Prefix": "runs/a b+c/ä/", "MaxKeys": 1}),
    ("list_objects_v2", {"Bucket": "checkpoints", "Prefix": "x/", "Delimiter": "/", "ContinuationToken": "t/o+k=="}),
    ("head_object", {"Bucket": "checkpoints", "Key": "runs/e1/.rt-runs/run.json"}),
    ("get_object", {"Bucket": "checkpoints", "Key": "a b/c+d~e(1).json"}),
    ("put_object",
     {"Bucket": "checkpoints", "Key": "r/run.json", "Body": b'{"a": 1}', "ContentType": "application/json",
                    "IfNoneMatch": "*"}),
    ("put_object", {"Bucket": "checkpoints", "Key": "r/run.json", "Body": b"{}", "IfMatch": '"abc"'}),
    ("delete_object", {"Bucket": "checkpoints", "Key": "r/run.json", "IfMatch": '"abc"'}),
]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body


def botocore_sends(endpoint, method, kwargs, *, status=200, body=b"", token=None, monkeypatch=None):
    """(request, answer or ClientError) of botocore's own client for one call; nothing is sent."""
    import botocore.session
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError

    seen = []

    def capture(request, **_):
        seen.append(request)
        return AWSResponse(request.url, status, {"ETag": '"e"'}, _Raw(body))

    session = botocore.session.Session()
    client = session.create_client("s3", endpoint_url=endpoint, region_name="eu-north1",
                                   aws_access_key_id=KEYS.access_key,
                                   aws_secret_access_key=KEYS.secret_key, aws_session_token=token)
    client.meta.events.register("before-send", capture)
    try:
        answer = getattr(client, method)(**kwargs)
    except ClientError as exc:
        answer = exc
    return seen[0], answer


def lite(endpoint, token=None):
    client = s3_lite.S3Lite(endpoint, s3_lite.Keys(KEYS.access_key, KEYS.secret_key, token), "eu-north1")
    client.clock = lambda: WHEN
    return client


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("method, kwargs", CALLS)
def test_the_url_is_botocores(endpoint, method, kwargs):
    request, _ = botocore_sends(endpoint, method, kwargs)
    client = lite(endpoint)
    if method == "list_objects_v2":
        query = [("list-type", "2"), ("prefix", kwargs["Prefix"])] + (
            [("max-keys", str(kwargs["MaxKeys"]))] if "MaxKeys" in kwargs else []) + (
            [("delimiter", kwargs["Delimiter"])] if "Delimiter" in kwargs else []) + [("encoding-type", "url")] + (
            [("continuation-token", kwargs["ContinuationToken"])] if "ContinuationToken" in kwargs else [])
        url = client.url(kwargs["Bucket"], "", query)
    else:
        url = client.url(kwargs["Bucket"], kwargs["Key"])
    assert sorted(url.partition("?")[2].split("&")) == sorted(request.url.partition("?")[2].split("&"))
    assert url.partition("?")[0] == request.url.partition("?")[0]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("method, kwargs", CALLS)
@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzEJr//////////token=="])
def test_the_signature_is_the_one_botocore_computes_for_the_same_request(endpoint, method, kwargs, token,
                                                                         monkeypatch):
    """botocore's S3 SigV4 signer, given the very request s3_lite sends, writes the same Authorization."""
    import botocore.auth
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    client = lite(endpoint, token)
    http_method = {"list_objects_v2": "GET", "head_object": "HEAD", "get_object": "GET", "put_object": "PUT",
                   "delete_object": "DELETE"}[method]
    query = [("list-type", "2"), ("prefix", kwargs.get("Prefix", "")), ("encoding-type", "url")] \
        if method == "list_objects_v2" else None
    url = client.url(kwargs["Bucket"], kwargs.get("Key", ""), query)
    body = kwargs.get("Body", b"")
    extra = {"content-type": kwargs.get("ContentType"), "if-match": kwargs.get("IfMatch"),
             "if-none-match": kwargs.get("IfNoneMatch")}
    ours = client.signed_headers(http_method, url, body, extra)
    theirs = AWSRequest(method=http_method, url=url, data=body,
                        headers={k: v for k, v in ours.items() if k not in ("authorization", "host")})
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: WHEN.replace(tzinfo=None))  # its clock, frozen
    S3SigV4Auth(Credentials(KEYS.access_key, KEYS.secret_key, token), "s3", "eu-north1").add_auth(theirs)
    assert ours["authorization"] == theirs.headers["Authorization"]
    assert "host" in ours["authorization"] and ours["x-amz-date"] == "20261130T053123Z"


LISTING = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>checkpoints</Name>
<Prefix>runs%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>%2F</Delimiter>
<IsTruncated>true</IsTruncated><EncodingType>url</EncodingType><NextContinuationToken>1ueGcxLPRx1Tr</NextContinuationToken>
<Contents><Key>runs%2Fa+b%2Bc.json</Key><LastModified>2026-11-30T05:00:00.000Z</LastModified><ETag>"e1"</ETag>
<Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>runs%2Fcheckpoint-2000%2F</Prefix></CommonPrefixes>
<CommonPrefixes><Prefix>runs%2F%C3%A4%2F</Prefix></CommonPrefixes></ListBucketResult>"""


def test_a_listing_reads_as_botocore_reads_it():
    _, theirs = botocore_sends(ENDPOINTS[0], "list_objects_v2", {"Bucket": "checkpoints", "Prefix": "runs/"},
                               body=LISTING)
    ours = s3_lite._listing(LISTING)
    assert [c["Key"] for c in ours["Contents"]] == [c["Key"] for c in theirs["Contents"]] == ["runs/a b+c.json"]
    assert ours["CommonPrefixes"] == theirs["CommonPrefixes"]
    for key in ("IsTruncated", "KeyCount", "NextContinuationToken"):
        assert ours[key] == theirs[key]
    assert "Contents" not in s3_lite._listing(LISTING.replace(LISTING[LISTING.index(b"<Contents>"):
                                                                      LISTING.index(b"</Contents>") + 11], b""))


@pytest.mark.parametrize("method, status, body", [
    ("head_object", 404, b""),
    ("head_object", 403, b""),
    ("get_object", 404, b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"),
    ("put_object", 412, b"<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you "
                        b"specified did not hold</Message></Error>"),
    ("list_objects_v2", 404, b"<Error><Code>NoSuchBucket</Code><Message>no bucket</Message></Error>"),
])
def test_an_error_carries_botocores_code_and_translates_the_same(method, status, body):
    kwargs = dict(next(k for m, k in CALLS if m == method))
    _, theirs = botocore_sends(ENDPOINTS[0], method, kwargs, status=status, body=body)
    ours = s3_lite._error(status, body)
    assert ours.response["Error"]["Code"] == theirs.response["Error"]["Code"]
    mine = storage._translate(ours, "checking x", "b")
    assert (type(mine), mine.message) == (type(t := storage._translate(theirs, "checking x", "b")), t.message)


# -- which keys: only where botocore's chain would stop at static keys --------------------------------
@pytest.fixture
def aws_home(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return tmp_path


def chain_keys():
    """What botocore's own chain resolves (None when it finds nothing it can use without a network)."""
    import botocore.session

    try:
        creds = botocore.session.Session().get_credentials()
    except Exception:  # noqa: BLE001 - a role or SSO profile: botocore would need the network
        return "delegated"
    return None if creds is None else (creds.access_key, creds.secret_key, creds.token)


@pytest.mark.parametrize("env, config, credentials, expected", [
    ({"AWS_ACCESS_KEY_ID": "AK1", "AWS_SECRET_ACCESS_KEY": "S1"}, "", "[default]\naws_access_key_id = AK2\n"
     "aws_secret_access_key = S2\n", ("AK1", "S1", None)),
    ({}, "", "[default]\naws_access_key_id = AK2\naws_secret_access_key = S2\naws_session_token = T2\n",
     ("AK2", "S2", "T2")),
    ({"AWS_PROFILE": "team"}, "[profile team]\nregion = eu-north1\n", "[default]\naws_access_key_id = AK2\n"
     "aws_secret_access_key = S2\n[team]\naws_access_key_id = AK3\naws_secret_access_key = S3\n", ("AK3", "S3", None)),
    ({"AWS_DEFAULT_PROFILE": "team", "AWS_PROFILE": "other"}, "", "[team]\naws_access_key_id = AK3\n"
     "aws_secret_access_key = S3\n", ("AK3", "S3", None)),
    ({}, "[default]\naws_access_key_id = AK4\naws_secret_access_key = S4\n", "", ("AK4", "S4", None)),
])
def test_static_keys_are_the_ones_botocores_chain_picks(aws_home, monkeypatch, env, config, credentials, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (aws_home / "config").write_text(config)
    (aws_home / "credentials").write_text(credentials)
    keys = s3_lite.static_keys()
    assert (keys.access_key, keys.secret_key, keys.token) == expected == chain_keys()


@pytest.mark.parametrize("env, config, credentials", [
    ({"AWS_ACCESS_KEY_ID": "AK1"}, "", ""),  # half a pair: botocore reports it
    ({}, "[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n[profile base]\n"
         "aws_access_key_id = A\naws_secret_access_key = S\n", "[default]\naws_access_key_id = AK2\n"
         "aws_secret_access_key = S2\n"),  # a role comes before the credentials file in the chain
    ({}, "[default]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n", ""),
    ({}, "[default]\ncredential_process = /bin/echo\naws_access_key_id = A\naws_secret_access_key = S\n", ""),
    ({}, "[default]\ns3 =\n  addressing_style = virtual\n", "[default]\naws_access_key_id = AK2\n"
         "aws_secret_access_key = S2\n"),  # S3 options: botocore speaks to S3 differently
    ({}, "", ""),  # nothing static: instance metadata, containers... are botocore's
])
def test_anything_but_static_keys_is_left_to_botocore(aws_home, monkeypatch, env, config, credentials):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (aws_home / "config").write_text(config)
    (aws_home / "credentials").write_text(credentials)
    assert s3_lite.static_keys() is None
    assert s3_lite.for_endpoint("http://10.213.0.1:9555") is None


def test_region_and_endpoint_as_botocore_reads_them(aws_home, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "S")
    (aws_home / "config").write_text("[default]\nregion = eu-north1\n")
    assert s3_lite.for_endpoint("https://storage.eu-north1.nebius.cloud").region == "eu-north1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west1")
    assert s3_lite.for_endpoint("https://storage.eu-north1.nebius.cloud").region == "eu-west1"
    (aws_home / "config").write_text("")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert s3_lite.for_endpoint("http://10.213.0.1:9555").region == "us-east-1"
    for endpoint in (None, "", "s3.example.org", "https://s3.example.org/some/path"):
        assert s3_lite.for_endpoint(endpoint) is None  # AWS itself, or an endpoint botocore reads its own way
    assert storage.client(None).__class__.__module__.startswith("botocore")


@pytest.mark.parametrize("env", [
    {"HTTPS_PROXY": "http://proxy.example.org:3128"},
    {"https_proxy": "http://proxy.example.org:3128", "no_proxy": "nebius.cloud"},
    {"https_proxy": "http://proxy.example.org:3128", "NO_PROXY": "10.213.0.1"},
    {"http_proxy": "http://proxy.example.org:3128"},
    {},
])
def test_an_endpoint_botocore_would_reach_through_a_proxy_is_left_to_botocore(aws_home, monkeypatch, env):
    from botocore.utils import get_environ_proxies

    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "S")
    for endpoint in ("https://storage.eu-north1.nebius.cloud", "http://10.213.0.1:9555"):
        proxied = endpoint.split(":")[0] in get_environ_proxies(endpoint)  # botocore's own answer
        assert (s3_lite.for_endpoint(endpoint) is None) == proxied, (endpoint, env)


# -- over TLS: moto's S3 app behind werkzeug with a certificate of our own, on loopback -----------------
@pytest.fixture
def tls_s3(tmp_path, monkeypatch):
    """An https S3 endpoint on 127.0.0.1 (moto's server app, in this process) and the CA file that trusts it."""
    import ipaddress
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rt-test-s3")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True,
                         ssl_context=(str(cert_file), str(key_file)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATLSTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "tls-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert_file))
    endpoint = f"https://127.0.0.1:{server.server_port}"
    storage.botocore_client(endpoint).create_bucket(Bucket="checkpoints")
    yield endpoint
    server.shutdown()


def test_over_tls_the_claim_and_the_checks_work_and_an_untrusted_certificate_is_refused(tls_s3, monkeypatch):
    client = storage.client(tls_s3)
    assert isinstance(client, s3_lite.S3Lite)  # the https endpoint with static keys: no botocore
    url = "s3://checkpoints/runs/.rt-runs/e1/run.json"
    storage.claim_run(client, url, {"job_id": "j1", "user": "ann", "host": "vm"}, append=False)
    with pytest.raises(storage.ClaimTaken, match="by j1"):
        # wait=0: the loser's wait for the winner to start (45 s by default) is the race tests' subject, not this one's
        storage.claim_run(client, url, {"job_id": "j2"}, append=False, wait=0)
    client.put_object(Bucket="checkpoints", Key="runs/e1/checkpoint-20/model.bin", Body=b"w")
    assert storage.latest_checkpoint(client, "s3://checkpoints/runs/e1/", "groot").step == 20
    assert storage.exists(client, "s3://checkpoints/runs/e1/") and not storage.exists(client, "s3://checkpoints/nope/")
    record, _ = storage.read_run(storage.botocore_client(tls_s3), url)  # what botocore reads back over TLS
    assert record["launches"][0].pop("launcher")["pid"] == os.getpid()  # the claim's launcher (claims.py)
    assert record["launches"] == [{"job_id": "j1", "user": "ann", "host": "vm"}]
    monkeypatch.setenv("AWS_CA_BUNDLE", certifi_or_system())  # a bundle that does not know our certificate
    with pytest.raises(storage.StorageError, match="S3 unreachable.*(CERTIFICATE_VERIFY_FAILED|certificate verify)"):
        storage.exists(storage.client(tls_s3), "s3://checkpoints/runs/")


def certifi_or_system() -> str:
    import ssl

    try:
        import certifi

        return certifi.where()
    except ImportError:
        return ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
