"""A local HTTP server that answers as Elasticsearch 8 or 9 does, for tests of the Elasticsearch store.

No Elasticsearch server can be installed on the development machines (notes/services.md), so the store's
behaviour under failure (item-level 429s in _bulk, delete-by-query failures and version conflicts,
too_many_buckets_exception, too_many_clauses, expired points in time, TLS, auth) is tested against this
server. It is NOT an Elasticsearch: it keeps indexes, mappings, aliases and documents by id, answers the
few endpoints the store calls with the response shapes of the Elasticsearch REST reference, and lets each
test script the rest: `server.script("POST", r"/_bulk$", handler_or_response, ...)` queues answers that are
used once each, in order, before the default handler.

What a real server does and this one imitates on purpose:
- every response carries `X-Elastic-Product: Elasticsearch` (the official client refuses a server without it);
- REST compatibility: a request whose Accept/Content-Type says `compatible-with=N` is refused with
  `media_type_header_exception` unless N is the server's major version or the one before it;
- with `auth` set, a request without that exact Authorization header gets 401 `security_exception`;
- with `tls` set (an ssl.SSLContext), it serves HTTPS only.
Every request is recorded in `server.requests` (method, path, query, headers, parsed body).

Single documents (`PUT /{index}/_doc/{id}`, `PUT /{index}/_create/{id}`, `GET`/`DELETE /{index}/_doc/{id}`)
carry `_seq_no`/`_primary_term` as a real shard does, and writes honour `op_type=create` and
`if_seq_no`/`if_primary_term` with Elasticsearch's 409 `version_conflict_engine_exception`: the alert state
(listener.alerts.state_elastic) relies on them for exactly once. Unscripted searches answer the few query
clauses that code sends (match_all, bool, term, terms, range, ids, exists) with `sort`, `size`,
`search_after` and `seq_no_primary_term`, also through a point in time (`POST /{index}/_pit` keeps a
snapshot of the documents, as a real one does); `_mget` says which ids exist. Any other clause (the query
compiler's full-text clauses) and every aggregation is refused as not scripted.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, a list of parsed lines for ND-JSON, or None


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


def error(status: int, kind: str, reason: str, **extra) -> Response:
    """An error in the documented shape: {"error": {"root_cause": [...], "type", "reason"}, "status"}."""
    cause = {"type": kind, "reason": reason, **extra}
    return Response(status, {"error": {"root_cause": [cause], **cause}, "status": status})


class FakeElasticsearch:
    def __init__(self, version: str = "9.1.0", *, auth: str | None = None, tls=None):
        self.version = version
        self.major = int(version.split(".")[0])
        self.auth = auth
        self.requests: list[Request] = []
        self.errors: list[Exception] = []  # exceptions raised by handlers (a test's mistake, not the store's)
        self.indices: dict[str, dict] = {}  # name -> {"mappings", "settings", "docs": {id: source}}
        self.aliases: dict[str, list[str]] = {}  # alias -> indices
        self._scripted: list[tuple[str, re.Pattern, Handler]] = []
        self._pits: dict[str, dict[str, dict]] = {}  # point in time id -> {index: its documents when opened}
        self._pit_count = 0
        self._lock = threading.Lock()
        self._docs_lock = threading.Lock()  # one request at a time changes documents, as a shard's primary does
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "FakeElasticsearch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def store_url(self, index: str = "listener-test", userinfo: str = "") -> str:
        scheme = "elasticsearchs" if self.scheme == "https" else "elasticsearch"
        return f"{scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/{index}"

    # ------------------------------------------------------------ scripting

    def script(self, method: str, path: str, *answers: Handler | Response) -> None:
        """Queue answers for requests matching method and the path regex; each is used once, in order."""
        pattern = re.compile(path)
        for answer in answers:
            handler = answer if callable(answer) else (lambda _r, a=answer: a)
            self._scripted.append((method, pattern, handler))

    def calls(self, method: str, path: str) -> list[Request]:
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def resolve(self, name: str) -> list[str]:
        out: list[str] = []
        for part in name.split(","):
            if part in self.aliases:
                out.extend(self.aliases[part])
            elif part in self.indices:
                out.append(part)
        return out

    def add_index(self, name: str, mappings: dict, docs: dict[str, dict] = (), alias: str | None = None) -> None:
        """An index as a test's starting point (e.g. one an older listener made)."""
        self.indices[name] = {"mappings": mappings, "settings": {}, "docs": dict(docs)}
        if alias:
            self.aliases.setdefault(alias, []).append(name)

    # ------------------------------------------------------------ dispatch

    def _answer(self, request: Request) -> Response:
        if self.auth is not None and request.headers.get("authorization") != self.auth:
            return error(401, "security_exception", "missing authentication credentials for REST request [/]",
                         header={"WWW-Authenticate": ['Basic realm="security"', "ApiKey"]})
        refused = self._check_compatibility(request)
        if refused is not None:
            return refused
        with self._lock:
            for i, (method, pattern, handler) in enumerate(self._scripted):
                if method == request.method and pattern.search(request.path):
                    del self._scripted[i]
                    return handler(request)
        with self._docs_lock:
            return self._default(request)

    def _check_compatibility(self, request: Request) -> Response | None:
        for name in ("accept", "content-type"):
            match = re.search(r"compatible-with=(\d+)", request.headers.get(name, ""))
            if match and int(match.group(1)) not in (self.major, self.major - 1):
                value = request.headers.get(name)
                return error(400, "media_type_header_exception", f"Invalid media-type value on headers [{name}]",
                             caused_by={"type": "status_exception",
                                        "reason": f"A compatible version is required on both Content-Type and "
                                                  f"Accept headers; Accept={value}"})
        return None

    def _default(self, r: Request) -> Response:
        parts = [unquote(p) for p in r.path.strip("/").split("/") if p]
        if r.method in ("GET", "HEAD") and not parts:
            return Response(200, {"name": "fake", "cluster_name": "listener-tests", "cluster_uuid": "x",
                                  "version": {"number": self.version, "build_flavor": "default",
                                              "lucene_version": "9.12.0",
                                              "minimum_wire_compatibility_version": "7.17.0"},
                                  "tagline": "You Know, for Search"})
        if r.method == "HEAD" and len(parts) == 1:
            return Response(200 if self.resolve(parts[0]) else 404)
        if len(parts) == 3 and parts[1] in ("_doc", "_create"):
            return self._document(r, parts[0], parts[1], parts[2])
        if r.method in ("PUT", "POST") and parts and parts[-1] == "_bulk":
            return self._bulk(r)
        if r.method == "PUT" and len(parts) == 1:
            return self._create(parts[0], r.body or {})
        if r.method == "GET" and len(parts) == 2 and parts[1] == "_mapping":
            names = self.resolve(parts[0])
            if not names:
                return error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            return Response(200, {n: {"mappings": self.indices[n]["mappings"]} for n in names})
        if r.method == "GET" and len(parts) == 2 and parts[1] == "_alias":
            names = self.resolve(parts[0])
            if not names:
                return error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            return Response(200, {n: {"aliases": {a: {} for a, idx in self.aliases.items() if n in idx}}
                                  for n in names})
        if r.method in ("PUT", "POST") and parts and parts[-1] == "_bulk":
            return self._bulk(r)
        if len(parts) == 2 and parts[1] in ("_settings", "_refresh", "_count", "_search"):
            names = self.resolve(parts[0])
            if not names:
                return error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            if parts[1] == "_settings" and r.method == "PUT":
                for n in names:
                    self.indices[n]["settings"].update(_flat(r.body))
                return Response(200, {"acknowledged": True})
            if parts[1] == "_refresh":
                return Response(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
            return self._search(r, names, parts[1])
        if r.method == "POST" and len(parts) == 2 and parts[1] == "_pit":
            names = self.resolve(parts[0])
            if not names:
                return error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            with self._lock:
                self._pit_count += 1
                pit = f"pit-{self._pit_count}"
                # a snapshot, as a real point in time is: later writes are not seen through it
                self._pits[pit] = {n: dict(self.indices[n]["docs"]) for n in names}
            return Response(200, {"id": pit})
        if r.method == "DELETE" and parts == ["_pit"]:
            freed = self._pits.pop((r.body or {}).get("id"), None) is not None
            return Response(200, {"succeeded": True, "num_freed": int(freed)})
        if r.method == "POST" and parts == ["_search"] and "pit" in (r.body or {}):
            pit = r.body["pit"]["id"]
            if pit not in self._pits:
                return error(404, "search_context_missing_exception", f"No search context found for id [{pit}]")
            return self._search(r, list(self._pits[pit]), "_search", self._pits[pit], pit)
        if r.method in ("GET", "POST") and len(parts) == 2 and parts[1] == "_mget":
            names = self.resolve(parts[0])
            if not names:
                return error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            found = {i: n for n in names for i in self.indices[n]["docs"]}
            return Response(200, {"docs": [{"_index": found.get(i, names[-1]), "_id": i, "found": i in found}
                                           for i in r.body["ids"]]})
        if r.method == "POST" and parts == ["_aliases"]:
            return self._aliases(r.body["actions"])
        if r.method == "DELETE" and len(parts) == 1:
            for name in parts[0].split(","):
                self.indices.pop(name, None)
                for alias in self.aliases.values():
                    if name in alias:
                        alias.remove(name)
            return Response(200, {"acknowledged": True})
        return error(404, "fake_not_scripted", f"the fake server has no answer for {r.method} {r.path}")

    def _search(self, r: Request, names: list[str], endpoint: str, snapshot: dict | None = None,
                pit: str | None = None) -> Response:
        body = r.body or {}
        if body.get("aggs") or body.get("aggregations"):
            return error(404, "fake_not_scripted", "the fake server answers no aggregations unscripted")
        query = body.get("query", {"match_all": {}})
        indexed = snapshot if snapshot is not None else {n: self.indices[n]["docs"] for n in names}
        try:
            docs = [(n, i, d) for n in names for i, d in indexed[n].items() if _matches(query, i, d)]
        except _Unsupported as what:
            return error(404, "fake_not_scripted", f"the fake server does not answer {what} queries unscripted")
        if endpoint == "_count":
            return Response(200, {"count": len(docs), "_shards": {"total": 1, "successful": 1, "failed": 0}})
        sort = body.get("sort")
        if sort:
            keys = [_sort_key(item) for item in (sort if isinstance(sort, list) else [sort])]

            def values(doc) -> list:
                return [doc[1] if field in ("_id", "_doc") else _field(doc[2], field) for field, _ in keys]
        else:  # the mention store's order when it sends none: its id
            keys = [("id", "asc")]

            def values(doc) -> list:
                return [doc[2].get("id", doc[1])]
        for position in reversed(range(len(keys))):  # stable sorts, last key first
            docs.sort(key=lambda doc: _comparable(values(doc)[position]), reverse=keys[position][1] == "desc")
        after = body.get("search_after")
        if after:
            def beyond(doc) -> bool:
                for (field, order), mine, theirs in zip(keys, values(doc), after):
                    if _comparable(mine) != _comparable(theirs):
                        return (_comparable(mine) > _comparable(theirs)) == (order == "asc")
                return False

            docs = [doc for doc in docs if beyond(doc)]
        size = int(body.get("size", r.query.get("size", 10)))
        with_seq = body.get("seq_no_primary_term") or r.query.get("seq_no_primary_term") == "true"
        hits = []
        for name, doc_id, source in docs[:size]:
            hit = {"_index": name, "_id": doc_id, "_score": None, "_source": source, "sort": values((name, doc_id, source))}
            if with_seq:
                hit.update(_seq_no=self._seq(name, doc_id)[0], _primary_term=1)
            hits.append(hit)
        answer = {"took": 1, "timed_out": False, "_shards": {"total": 1, "successful": 1, "failed": 0},
                  "hits": {"total": {"value": len(docs), "relation": "eq"}, "max_score": None, "hits": hits}}
        if pit is not None:
            answer["pit_id"] = pit
        return Response(200, answer)

    def _seq(self, index: str, doc_id: str) -> tuple[int, int]:
        """(seq_no, version) of a document; documents that came without one (add_index, _bulk) get one now."""
        target = self.indices[index]
        meta = target.setdefault("meta", {})
        if doc_id not in meta:
            target["next_seq"] = target.get("next_seq", 0) + 1
            meta[doc_id] = (target["next_seq"] - 1, 1)
        return meta[doc_id]

    def _bump(self, index: str, doc_id: str, exists: bool) -> tuple[int, int]:
        target = self.indices[index]
        version = self._seq(index, doc_id)[1] + 1 if exists else 1
        target["next_seq"] = target.get("next_seq", 0) + 1
        target.setdefault("meta", {})[doc_id] = (target["next_seq"] - 1, version)
        return target["meta"][doc_id]

    def _document(self, r: Request, name: str, endpoint: str, doc_id: str) -> Response:
        names = self.resolve(name)
        index = names[-1] if names else name
        if r.method in ("GET", "HEAD", "DELETE") and endpoint == "_doc":
            if index not in self.indices:
                return error(404, "index_not_found_exception", f"no such index [{name}]", index=name)
            docs = self.indices[index]["docs"]
            if doc_id not in docs:
                result = {"_index": index, "_id": doc_id}
                return Response(404, {**result, "found": False} if r.method != "DELETE" else
                                {**result, "_version": 1, "result": "not_found", "_seq_no": -1, "_primary_term": 1,
                                 "_shards": {"total": 1, "successful": 1, "failed": 0}})
            seq, version = self._seq(index, doc_id)
            if r.method == "DELETE":
                conflict = self._conflict(r, index, doc_id, True)
                if conflict:
                    return conflict
                del docs[doc_id]
                seq, version = self._bump(index, doc_id, True)
                del self.indices[index]["meta"][doc_id]
                return Response(200, {"_index": index, "_id": doc_id, "_version": version, "result": "deleted",
                                      "_seq_no": seq, "_primary_term": 1,
                                      "_shards": {"total": 1, "successful": 1, "failed": 0}})
            return Response(200, {"_index": index, "_id": doc_id, "_version": version, "_seq_no": seq,
                                  "_primary_term": 1, "found": True, "_source": docs[doc_id]})
        if r.method not in ("PUT", "POST"):
            return error(405, "fake_not_scripted", f"{r.method} {r.path}")
        target = self.indices.setdefault(index, {"mappings": {}, "settings": {}, "docs": {}})  # auto-create
        if target["settings"].get("index.blocks.write") is True:
            return error(403, "cluster_block_exception", f"index [{index}] blocked by: [FORBIDDEN/8/index write (api)];")
        exists = doc_id in target["docs"]
        create = endpoint == "_create" or r.query.get("op_type") == "create"
        if create and exists:
            return error(409, "version_conflict_engine_exception",
                         f"[{doc_id}]: version conflict, document already exists (current version "
                         f"[{self._seq(index, doc_id)[1]}])", index_uuid="fake", shard="0", index=index)
        conflict = self._conflict(r, index, doc_id, exists)
        if conflict:
            return conflict
        target["docs"][doc_id] = r.body
        seq, version = self._bump(index, doc_id, exists)
        return Response(200 if exists else 201, {
            "_index": index, "_id": doc_id, "_version": version, "result": "updated" if exists else "created",
            "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": seq, "_primary_term": 1})

    def _conflict(self, r: Request, index: str, doc_id: str, exists: bool) -> Response | None:
        """409 when `if_seq_no`/`if_primary_term` do not name the document's current version."""
        if "if_seq_no" not in r.query and "if_primary_term" not in r.query:
            return None
        wanted = (int(r.query.get("if_seq_no", -2)), int(r.query.get("if_primary_term", -2)))
        if exists and wanted == (self._seq(index, doc_id)[0], 1):
            return None
        current = (f"current document has seqNo [{self._seq(index, doc_id)[0]}] and primary term [1]" if exists
                   else "but no document was found")
        return error(409, "version_conflict_engine_exception",
                     f"[{doc_id}]: version conflict, required seqNo [{wanted[0]}], primary term [{wanted[1]}]. {current}",
                     index_uuid="fake", shard="0", index=index)

    def _create(self, name: str, body: dict) -> Response:
        if name in self.indices or name in self.aliases:
            return error(400, "resource_already_exists_exception", f"index [{name}] already exists", index=name)
        self.indices[name] = {"mappings": body.get("mappings", {}), "settings": body.get("settings", {}), "docs": {}}
        for alias in body.get("aliases", {}):
            self.aliases.setdefault(alias, []).append(name)
        return Response(200, {"acknowledged": True, "shards_acknowledged": True, "index": name})

    def _aliases(self, actions: list[dict]) -> Response:
        for action in actions:
            (kind, args), = action.items()
            if kind == "add":
                self.aliases.setdefault(args["alias"], []).append(args["index"])
            elif kind == "remove":
                self.aliases.get(args["alias"], []).remove(args["index"])
            elif kind == "remove_index":
                self.indices.pop(args["index"], None)
        return Response(200, {"acknowledged": True})

    def _bulk(self, r: Request) -> Response:
        items = []
        lines = r.body
        for i in range(0, len(lines), 2):
            (op, meta), = lines[i].items()
            names = self.resolve(meta["_index"])
            index = names[-1] if names else meta["_index"]
            target = self.indices.setdefault(index, {"mappings": {}, "settings": {}, "docs": {}})
            if target["settings"].get("index.blocks.write") is True:
                items.append(bulk_failure(meta["_id"], index, "cluster_block_exception",
                                          f"index [{index}] blocked by: [FORBIDDEN/8/index write (api)];", 403, op))
                continue
            docs = target["docs"]
            created = meta["_id"] not in docs
            docs[meta["_id"]] = lines[i + 1]
            self._bump(index, meta["_id"], not created)
            items.append(bulk_item(meta["_id"], index, op, "created" if created else "updated"))
        failed = any(next(iter(item.values()))["status"] >= 300 for item in items)
        return Response(200, {"took": 1, "errors": failed, "items": items})

    # ------------------------------------------------------------ HTTP

    def _handler_class(self):
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def setup(self):
                super().setup()
                # headers and body go out in two writes: without NODELAY, delayed ACKs add ~40 ms per request
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self):
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                body: Any = None
                if raw:
                    text = raw.decode("utf-8")
                    if "x-ndjson" in headers.get("content-type", ""):
                        body = [json.loads(line) for line in text.splitlines() if line.strip()]
                    else:
                        body = json.loads(text)
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                request = Request(self.command, unquote(split.path), query, headers, body)
                server.requests.append(request)
                try:
                    response = server._answer(request)
                except Exception as exc:  # a bug in a test's script: answer, so the test sees it
                    response = error(500, "fake_server_error", f"{type(exc).__name__}: {exc}")
                    server.errors.append(exc)
                payload = b"" if response.body is None else json.dumps(response.body).encode()
                self.send_response(response.status)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Type", f"application/vnd.elasticsearch+json;compatible-with={server.major}")
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        return _Handler


class _Unsupported(Exception):
    """A query clause the fake does not evaluate (the test should script the answer)."""


def _field(source: dict, path: str):
    value = source
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _comparable(value):
    """Numbers compare as numbers, everything else as text; missing values sort first."""
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool):
        return (1, int(value), "")
    if isinstance(value, (int, float)):
        return (1, value, "")
    return (2, 0, str(value))


def _sort_key(item) -> tuple[str, str]:
    if isinstance(item, str):
        return item, "asc"
    (field, spec), = item.items()
    return field, spec if isinstance(spec, str) else spec.get("order", "asc")


def _values(source: dict, field: str) -> list:
    value = _field(source, field)
    return value if isinstance(value, list) else [] if value is None else [value]


def _matches(query: dict, doc_id: str, source: dict) -> bool:
    """The few query clauses the alert state sends, evaluated as Elasticsearch does on keyword/date/number
    fields (dates are compared as the ISO text the alert state writes)."""
    (kind, spec), = query.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        def listed(name):
            clauses = spec.get(name, [])
            return clauses if isinstance(clauses, list) else [clauses]

        required = listed("filter") + listed("must")
        if not all(_matches(q, doc_id, source) for q in required):
            return False
        if any(_matches(q, doc_id, source) for q in listed("must_not")):
            return False
        should = listed("should")
        least = int(spec.get("minimum_should_match", 0 if required else 1))
        return not should or sum(_matches(q, doc_id, source) for q in should) >= least
    if kind == "term":
        (field, value), = spec.items()
        value = value["value"] if isinstance(value, dict) else value
        return value in _values(source, field)
    if kind == "terms":
        (field, values), = spec.items()
        return any(v in values for v in _values(source, field))
    if kind == "ids":
        return doc_id in spec["values"]
    if kind == "exists":
        return bool(_values(source, spec["field"]))
    if kind == "range":
        (field, bounds), = spec.items()
        ops = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b, "lte": lambda a, b: a <= b,
               "lt": lambda a, b: a < b}
        return any(all(ops[op](_comparable(v), _comparable(bound)) for op, bound in bounds.items() if op in ops)
                   for v in _values(source, field))
    raise _Unsupported(kind)


def _flat(settings: dict, prefix: str = "") -> dict:
    """{"index": {"blocks": {"write": true}}} and {"index.blocks.write": true} -> the flat form."""
    out = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        else:
            out[name if name.startswith("index.") else "index." + name] = value
    return out


def bulk_item(doc_id: str, index: str, op: str = "index", result: str = "created") -> dict:
    status = 201 if result == "created" else 200
    return {op: {"_index": index, "_id": doc_id, "_version": 1, "result": result, "status": status,
                 "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1}}


def bulk_rejection(doc_id: str, index: str, op: str = "index") -> dict:
    """An item the write thread pool rejected (status 429), as _bulk reports it inside a 200 response."""
    return {op: {"_index": index, "_id": doc_id, "status": 429, "error": {
        "type": "es_rejected_execution_exception",
        "reason": "rejected execution of coordinating operation [shard_detail=[listener][0][P], "
                  "shard_coordinating_and_primary_bytes=0, shard_operation_bytes=1024, "
                  "shard_max_coordinating_and_primary_bytes=0]"}}}


def bulk_failure(doc_id: str, index: str, kind: str, reason: str, status: int = 400, op: str = "index") -> dict:
    return {op: {"_index": index, "_id": doc_id, "status": status, "error": {"type": kind, "reason": reason}}}


def stalled(release: threading.Event, answer: Response | None = None, most: float = 30.0) -> Handler:
    """A handler that answers only when `release` is set (or after `most` seconds): a node that has stopped
    answering, for the client's own request time-out. Tests set `release` at the end, so no thread lingers."""

    def handle(r: Request) -> Response:
        release.wait(most)
        return answer or error(503, "fake_released", "released by the test")

    return handle


def bulk_answer(items_for: Callable[[str, str], dict]) -> Handler:
    """A _bulk handler answering each action with items_for(id, index) (errors: true when any failed)."""

    def handle(r: Request) -> Response:
        items = []
        for i in range(0, len(r.body), 2):
            (op, meta), = r.body[i].items()
            items.append(items_for(meta["_id"], meta["_index"]))
        failed = any(next(iter(item.values())).get("status", 200) >= 300 for item in items)
        return Response(200, {"took": 3, "errors": failed, "items": items})

    return handle
