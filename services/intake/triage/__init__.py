"""The triage workbench: the work list of reports waiting for a person, claims, dispositions."""
