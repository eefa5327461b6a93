"""Local HTTP servers that answer like outside APIs (Reddit, YouTube) on 127.0.0.1, for tests and the demo."""
