"""The local Reddit API server on its own (plain HTTP with requests), since tests and `listener demo` rely on its
shapes: auth, listings and paging, search syntax, comment trees, morechildren, rate-limit headers, injected failures."""

import pytest
import requests

from demo.servers.reddit import RedditServer, compile_search, make_comment, make_submission

T = 1_762_000_000.0


@pytest.fixture
def server():
    things = [make_submission(f"s{i:03d}", "nimbuswallet" if i % 2 else "fintech", f"Post {i} about Nimbus",
                              created_utc=T + i) for i in range(150)]
    things.append(make_submission("tree", "fintech", "Big thread", "body", created_utc=T + 1000))
    things += [make_comment(f"c{i}", "tree", f"top {i}", created_utc=T + 2000 + i) for i in range(8)]
    things += [make_comment("r1", "tree", "reply", parent_id="t1_c0", created_utc=T + 3000)]
    with RedditServer(things, tree_limit=5) as srv:
        yield srv


@pytest.fixture
def api(server):
    session = requests.Session()
    token = session.post(server.base_url + "/api/v1/access_token", data={"grant_type": "client_credentials"},
                         auth=("id", "secret")).json()
    assert token["token_type"] == "bearer" and token["expires_in"] > 0 and token["scope"] == "*"
    session.headers["Authorization"] = f"bearer {token['access_token']}"
    return lambda path, method="GET", **kw: session.request(method, server.base_url + path, **kw)


def names(body):
    return [child["data"]["name"] for child in body["data"]["children"]]


def test_api_needs_a_token(server):
    assert requests.get(server.base_url + "/r/fintech/new").status_code == 401


def test_listing_shape_paging_and_order_independent_query(api):
    first = api("/r/all/new", params={"limit": 1024, "raw_json": 1}).json()
    assert first["kind"] == "Listing" and first["data"]["dist"] == 100  # at most 100 a page
    assert names(first)[0] == "t3_tree" and first["data"]["after"] == names(first)[-1]
    second = api("/r/all/new", params=[("raw_json", "1"), ("after", first["data"]["after"]), ("limit", "100")]).json()
    assert len(names(second)) == 51 and second["data"]["after"] is None
    assert not set(names(first)) & set(names(second))
    newer = api("/r/all/new", params={"before": names(second)[0], "limit": 3}).json()
    assert names(newer) == names(first)[-3:]
    only_sub = names(api("/r/nimbuswallet/new", params={"limit": 100}).json())
    assert len(only_sub) == 75 and all(int(n[4:]) % 2 for n in only_sub)
    both = names(api("/r/nimbuswallet+fintech/new", params={"limit": 5}).json())
    assert both[0] == "t3_tree"


def test_comments_listing_has_link_fields(api):
    body = api("/r/fintech/comments/", params={"limit": 2}).json()
    data = body["data"]["children"][0]["data"]
    assert data["name"] == "t1_r1" and data["link_id"] == "t3_tree" and data["link_title"] == "Big thread"
    assert data["permalink"].endswith("/tree/big_thread/r1/") and data["subreddit"] == "fintech"


def test_search_syntax_restrict_sr_and_sort(api):
    hits = names(api("/r/all/search/", params={"q": "nimbus AND (post OR nothing) NOT 149", "sort": "new",
                                                "restrict_sr": "False", "limit": 100}).json())
    assert len(hits) == 100 and "t3_s149" not in hits and hits[0] == "t3_s148"
    restricted = names(api("/r/fintech/search/", params={"q": '"post 4"', "restrict_sr": "True"}).json())
    assert restricted == ["t3_s004"]
    assert compile_search("nimb*")({"title": "Nimbus!", "selftext": ""})
    assert not compile_search("nimb")({"title": "Nimbus!", "selftext": ""})
    assert compile_search("title:big author:someone")({"title": "Big", "selftext": "", "author": "someone"})


def test_comment_tree_with_more_and_morechildren(api):
    submission, comments = api("/comments/tree/", params={"limit": 2048, "sort": "old"}).json()
    assert names(submission) == ["t3_tree"] and submission["data"]["children"][0]["data"]["num_comments"] == 9
    children = comments["data"]["children"]
    shown = [c for c in children if c["kind"] == "t1"]
    more = [c for c in children if c["kind"] == "more"]
    assert len(more) == 1 and more[0]["data"]["parent_id"] == "t3_tree"
    assert len(shown) + more[0]["data"]["count"] + 1 == 9  # c0's reply is nested inside c0
    assert shown[0]["data"]["replies"]["data"]["children"][0]["data"]["name"] == "t1_r1"
    rest = api("/api/morechildren/", method="POST", data={"children": ",".join(more[0]["data"]["children"]),
                                                           "link_id": "t3_tree", "api_type": "json"}).json()
    assert rest["json"]["errors"] == []
    things = rest["json"]["data"]["things"]
    assert {t["data"]["id"] for t in things} == set(more[0]["data"]["children"])
    assert all(t["data"]["replies"] == "" for t in things)


def test_api_info_and_unknown_paths(api):
    assert names(api("/api/info/", params={"id": "t3_tree,t1_c1,t3_nope"}).json()) == ["t3_tree", "t1_c1"]
    assert api("/comments/nope/").status_code == 404
    assert names(api("/r/fintech/hot", params={"limit": 1}).json()) == ["t3_tree"]
    assert api("/r/fintech/about/rules").status_code == 404


def test_rate_limit_headers_and_injected_failures(server, api):
    first = api("/r/fintech/new")
    assert float(first.headers["x-ratelimit-remaining"]) > 0 and int(first.headers["x-ratelimit-used"]) >= 1
    assert 1 <= int(first.headers["x-ratelimit-reset"]) <= 60
    server.fail_next(2, status=500, path="/r/fintech")
    assert api("/r/nimbuswallet/new").status_code == 200  # other paths are not affected
    assert [api("/r/fintech/new").status_code for _ in range(3)] == [500, 500, 200]
    server.fail_next(1, status=429, retry_after=2)
    throttled = api("/r/fintech/new")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    assert [r.path for r in server.requests_to("/r/fintech/new")][-1] == "/r/fintech/new"


def test_budget_used_up_answers_429(tmp_path):
    with RedditServer([], rate_limit=2, rate_window=60) as srv:
        session = requests.Session()
        token = session.post(srv.base_url + "/api/v1/access_token", data={"grant_type": "client_credentials"}).json()
        session.headers["Authorization"] = f"bearer {token['access_token']}"
        statuses = [session.get(srv.base_url + "/r/x/new").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


def test_things_are_checked_and_completed():
    with pytest.raises(ValueError, match="link_id"):
        RedditServer([{"id": "x", "body": "no thread"}])
    srv = RedditServer([{"id": "a", "subreddit": "x", "title": "Hello", "created_utc": T},
                        {"id": "b", "link_id": "t3_a", "body": "hi", "created_utc": T + 1}])
    things = srv.things
    assert things["t3_a"]["permalink"] == "/r/x/comments/a/hello/" and things["t3_a"]["is_self"]
    assert things["t1_b"]["parent_id"] == "t3_a"
    srv.delete("t1_b")
    assert srv.things["t1_b"]["body"] == "[deleted]" and srv.things["t1_b"]["author"] == "[deleted]"
