"""Connecting to Elasticsearch as real clusters need it: URL, credentials and TLS from the environment, the
REST compatibility header chosen by the server's version, and transport errors turned into one-line
store errors that never carry a credential.

Settings (environment; documented in README.md):
- `LISTENER_ES_API_KEY`: an API key (the base64 "id:key" form Kibana shows as "encoded"); or
- `LISTENER_ES_USERNAME` / `LISTENER_ES_PASSWORD`: basic auth (a user:password in the store URL works too);
- `LISTENER_ES_CA_CERTS`: a PEM file of the CA that signed the cluster's certificate (self-managed clusters);
- `LISTENER_ES_FINGERPRINT`: the SHA-256 fingerprint of the cluster's HTTP certificate, instead of a CA file
  (what Elasticsearch prints at first start);
- `LISTENER_ES_TIMEOUT`: seconds per request (default 30).

Why the compatibility header: the 9.x client asks for `compatible-with=9`, which an Elasticsearch 8 server
refuses (media_type_header_exception). Every supported server (8.x, 9.x) accepts `compatible-with=8`, so the
first request (GET /) asks with 8, reads the server's major version, and from then on the client asks for
that version (or its own, if older). The 8.x and 9.x APIs the store uses are the same, so one client (8.13+
or 9.x) serves both.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterator, Mapping
from urllib.parse import unquote, urlsplit

from listener.store.base import QueryRejected, StoreConfigError, StoreError, StoreUnavailable, TooManyBuckets

DEFAULT_INDEX = "listener-mentions"
DEFAULT_PORT = 9200
SUPPORTED_MAJORS = (8, 9)
ENV_VARS = ("LISTENER_ES_API_KEY", "LISTENER_ES_USERNAME", "LISTENER_ES_PASSWORD", "LISTENER_ES_CA_CERTS",
            "LISTENER_ES_FINGERPRINT", "LISTENER_ES_TIMEOUT")
_SECRET_OPTIONS = ("api_key", "basic_auth")
# Elasticsearch index names: lower case, no \ / * ? " < > | , # : or space, not starting with - _ +
_INDEX_NAME = re.compile(r"^[a-z0-9][^\\/*?\"<>|,#: A-Z]*$")


def parse_url(url: str) -> dict:
    """`elasticsearch://[user:pass@]host[:port][/index]` -> {"hosts": [...], "index": ..., "basic_auth": ...}.
    `elasticsearchs://` connects over HTTPS."""
    from listener.store import redact_url

    parts = urlsplit(url)
    if parts.scheme not in ("elasticsearch", "elasticsearchs"):
        raise StoreConfigError(f"not an elasticsearch URL: {redact_url(url)!r}")
    if not parts.hostname:
        raise StoreConfigError(f"no host in {redact_url(url)!r}; write elasticsearch://HOST:9200/INDEX")
    http = "https" if parts.scheme == "elasticsearchs" else "http"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    index = unquote(parts.path.strip("/")) or DEFAULT_INDEX
    if not _INDEX_NAME.match(index):
        raise StoreConfigError(f"the index name {index!r} in {redact_url(url)!r} is not a valid Elasticsearch "
                               f"index name (lower case, no '/', '*', ',', '#', ':' or spaces)")
    out = {"hosts": [f"{http}://{host}:{parts.port or DEFAULT_PORT}"], "index": index}
    if parts.username:
        out["basic_auth"] = (unquote(parts.username), unquote(parts.password or ""))
    return out


def env_options(env: Mapping[str, str] | None = None) -> dict:
    """Client options from the LISTENER_ES_* variables (see the module docstring)."""
    env = os.environ if env is None else env
    out: dict = {}
    if env.get("LISTENER_ES_API_KEY"):
        out["api_key"] = env["LISTENER_ES_API_KEY"]
    if env.get("LISTENER_ES_USERNAME"):
        out["basic_auth"] = (env["LISTENER_ES_USERNAME"], env.get("LISTENER_ES_PASSWORD", ""))
    if "api_key" in out and "basic_auth" in out:
        raise StoreConfigError("LISTENER_ES_API_KEY and LISTENER_ES_USERNAME are both set; keep one of them")
    if env.get("LISTENER_ES_CA_CERTS"):
        path = Path(env["LISTENER_ES_CA_CERTS"]).expanduser()
        if not path.is_file():
            raise StoreConfigError(f"LISTENER_ES_CA_CERTS: no such file {str(path)!r}; give the PEM file of the "
                                   f"CA that signed the cluster's certificate")
        out["ca_certs"] = str(path)
    if env.get("LISTENER_ES_FINGERPRINT"):
        out["ssl_assert_fingerprint"] = env["LISTENER_ES_FINGERPRINT"].replace(":", "").lower()
    if env.get("LISTENER_ES_TIMEOUT"):
        try:
            out["request_timeout"] = float(env["LISTENER_ES_TIMEOUT"])
        except ValueError:
            raise StoreConfigError(f"LISTENER_ES_TIMEOUT: expected seconds, "
                                   f"got {env['LISTENER_ES_TIMEOUT']!r}") from None
    return out


def client_options(url: str, env: Mapping[str, str] | None = None) -> tuple[str, dict]:
    """(index, client options) for a store URL, the environment's credentials and TLS settings added.
    Credentials in the URL and in the environment together are refused (which one would win is a guess)."""
    options = parse_url(url)
    index = options.pop("index")
    extra = env_options(env)
    if "basic_auth" in options and ("basic_auth" in extra or "api_key" in extra):
        raise StoreConfigError("credentials are both in the store URL and in LISTENER_ES_*; keep one of them")
    options.update(extra)
    return index, options


# ---------------------------------------------------------------- the client


def _compat_transport_class():
    from elastic_transport import Transport

    class CompatibleTransport(Transport):
        """Asks for REST compatibility with `compatible_with` (the server's major version) instead of the
        client's own major version."""

        compatible_with: int = SUPPORTED_MAJORS[0]

        def perform_request(self, method, target, *, headers=None, **kwargs):
            if headers:
                headers = headers.copy() if hasattr(headers, "copy") else dict(headers)
                for name in ("Accept", "Content-Type"):
                    value = headers.get(name)
                    if value and "compatible-with=" in value:
                        headers[name] = re.sub(r"compatible-with=\d+", f"compatible-with={self.compatible_with}",
                                               value)
            return super().perform_request(method, target, headers=headers, **kwargs)

    return CompatibleTransport


def connect(hosts: list[str], **options):
    """An Elasticsearch client that speaks the server's REST version (8 or 9); StoreUnavailable when the
    server cannot be reached, refuses the credentials or is another version."""
    from elasticsearch import Elasticsearch

    options.setdefault("request_timeout", 30)
    secrets = _secrets(options)
    client = Elasticsearch(hosts=hosts, transport_class=_compat_transport_class(), **options)
    where = ", ".join(hosts)
    try:
        with translate_errors(where, secrets):
            info = client.info()
    except StoreError:
        client.close()
        raise
    number = str(info.get("version", {}).get("number", "0"))
    major = int(number.split(".")[0]) if number.split(".")[0].isdigit() else 0
    if major not in SUPPORTED_MAJORS:
        client.close()
        raise StoreUnavailable(f"Elasticsearch at {where} is version {number}; listener supports Elasticsearch "
                               f"{' and '.join(f'{m}.x' for m in SUPPORTED_MAJORS)}")
    # an 8.x client talking to a 9.x server keeps asking for 8 (the server accepts it; the client knows 8's shapes)
    from elasticsearch import __versionstr__ as client_version

    client.transport.compatible_with = min(major, int(client_version.split(".")[0]))
    client.server_version = number  # for `status` and messages
    return client


def _secrets(options: Mapping) -> list[str]:
    """The credential strings that must never appear in a message."""
    out = []
    api_key = options.get("api_key")
    if isinstance(api_key, (tuple, list)):
        out.extend(str(v) for v in api_key)
    elif api_key:
        out.append(str(api_key))
    if options.get("basic_auth"):
        out.append(str(options["basic_auth"][1]))
    return [s for s in out if s]


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def error_types(error) -> list[str]:
    """Every `type` in an Elasticsearch error body (root causes, caused_by chains, failed shards)."""
    found: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("type"), str):
                found.append(value["type"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(getattr(error, "body", None))
    return found


def error_reason(error) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        cause = body["error"]
        while isinstance(cause.get("caused_by"), dict):  # the innermost cause says the most
            cause = cause["caused_by"]
        return f"{cause.get('type', 'error')}: {cause.get('reason', '')}".strip()
    return str(getattr(error, "message", None) or type(error).__name__)


@contextlib.contextmanager
def translate_errors(where: str, secrets: list[str] = ()) -> Iterator[None]:
    """Transport and server errors -> StoreUnavailable / QueryRejected with one line; store errors pass."""
    from elastic_transport import ConnectionError as TransportConnectionError
    from elastic_transport import ConnectionTimeout, TlsError
    from elasticsearch import ApiError, AuthenticationException, AuthorizationException, UnsupportedProductError

    try:
        yield
    except StoreError:
        raise
    except TlsError as err:
        raise StoreUnavailable(redact(
            f"TLS with Elasticsearch at {where} failed ({_short(err)}); set LISTENER_ES_CA_CERTS to the cluster's "
            f"CA file or LISTENER_ES_FINGERPRINT to its certificate fingerprint", list(secrets))) from None
    except ConnectionTimeout:
        raise StoreUnavailable(f"Elasticsearch at {where} did not answer in time; is it overloaded? "
                               f"(LISTENER_ES_TIMEOUT sets the seconds per request)") from None
    except TransportConnectionError as err:
        raise StoreUnavailable(redact(f"cannot reach Elasticsearch at {where} ({_short(err)}); is it running, "
                                      f"and is LISTENER_STORE right?", list(secrets))) from None
    except AuthenticationException:
        raise StoreUnavailable(f"Elasticsearch at {where} refused the credentials (401); set LISTENER_ES_API_KEY "
                               f"or LISTENER_ES_USERNAME/LISTENER_ES_PASSWORD") from None
    except AuthorizationException as err:
        if "cluster_block_exception" in error_types(err):  # read-only: a migration is copying the index
            raise StoreUnavailable(f"the index is read-only for now ({error_reason(err)}); a `listener es migrate` "
                                   f"may be running: retry the batch later") from None
        raise StoreUnavailable(redact(f"Elasticsearch at {where} does not allow this ({error_reason(err)}); grant "
                                      f"the user the index privileges listener needs", list(secrets))) from None
    except UnsupportedProductError:
        raise StoreUnavailable(f"the server at {where} is not Elasticsearch (no X-Elastic-Product header)") from None
    except ApiError as err:
        types = error_types(err)
        if "media_type_header_exception" in types:
            raise StoreUnavailable(f"Elasticsearch at {where} refused the client's REST version "
                                   f"({error_reason(err)}); listener supports Elasticsearch 8.x and 9.x") from None
        if any("too_many" in t and "clause" in t for t in types) or "maxClauseCount" in str(err.body):
            raise QueryRejected("Elasticsearch refused the query: it expands to too many terms (too_many_clauses); "
                                "make the prefixes (word*) longer or the query narrower") from None
        if "too_many_buckets_exception" in types:
            raise TooManyBuckets(f"Elasticsearch refused the aggregation: too many buckets ({error_reason(err)}); "
                                f"choose a larger interval or a shorter time range") from None
        if err.status_code == 400:
            raise QueryRejected(redact(f"Elasticsearch refused the request: {error_reason(err)}",
                                       list(secrets))) from None
        raise StoreUnavailable(redact(f"Elasticsearch at {where} failed ({err.status_code} {error_reason(err)})",
                                      list(secrets))) from None


def _short(err) -> str:
    """The useful end of a transport error ("[Errno 111] Connection refused", "certificate verify failed")."""
    text = str(getattr(err, "message", err))
    for pattern in (r"\[Errno -?\d+\][^)'\"]*", r"certificate verify failed[^)'\"]*", r"[Ff]ingerprint[^)'\"]*",
                    r"timed out"):
        match = re.search(pattern, text)
        if match:
            return match.group(0).strip().rstrip(".")
    return type(err).__name__
