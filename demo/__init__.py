"""The demo: sample data and local servers that answer like Reddit, YouTube and review sites (not product code)."""
