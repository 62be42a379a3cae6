"""Case events from the units over HTTP (`POST /v1/cases/{report_id}/events`) and the state of
a report's cases as its read shows them."""
