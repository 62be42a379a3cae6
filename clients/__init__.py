"""Reference clients written on the documented contracts only (AsyncAPI, OpenAPI, README)."""
