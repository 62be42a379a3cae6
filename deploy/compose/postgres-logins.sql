-- The database roles of migration 0009 and a login for each process, made when PostgreSQL's
-- data directory is first created (the image runs /docker-entrypoint-initdb.d as postgres).
-- The roles exist before the first migration, so 0009 only grants (as where a deployment
-- manages roles itself). Development passwords, as in deploy/compose.yaml.
CREATE ROLE fsi_owner NOLOGIN;
CREATE ROLE fsi_intake NOLOGIN;
CREATE ROLE fsi_router NOLOGIN;

-- fsi-migrate: a member of the owner role, and the database's owner so it can grant CREATE
-- on the schema to fsi_owner.
CREATE ROLE fsi_migrate LOGIN PASSWORD 'fsi-migrate-dev-only' IN ROLE fsi_owner;
-- The services: members of their role only (outside development a service refuses a
-- superuser, a member of fsi_owner or the other service's login).
CREATE ROLE fsi_intake_app LOGIN PASSWORD 'fsi-intake-dev-only' IN ROLE fsi_intake;
CREATE ROLE fsi_router_app LOGIN PASSWORD 'fsi-router-dev-only' IN ROLE fsi_router;

CREATE DATABASE fsi OWNER fsi_migrate;
