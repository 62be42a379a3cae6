-- A police district's slug from the name a decision of the rules gives it. The rules name a
-- district by the catalogue's name (`Oslo`, `Sør-Øst`, `Møre og Romsdal`: `decisions.
-- district`); people's tokens, the work list and a person's decision by its slug (`oslo`,
-- `sor-ost`, `more-og-romsdal`). For the catalogue's twelve districts (deploy/routing/
-- units.yaml) the slug is the name in lower case, spaces as hyphens, ø/æ/å as o/a/a: the
-- spelling migration 0011 used to put the rules' triaged cases on the work list, and the one
-- a rules' case returned by its unit is listed under. Every read that places a report in a
-- district for a person (a person's read of a report, a link's "a report the person may
-- see", the history's `district`) compares this, never the name, with the person's slugs.
--
-- A name the catalogue does not have (a district renamed or dropped since it decided) gets
-- the same spelling: no person's district is likely to have it, so such a report is read by
-- the national role only, never by everyone as a report with no district is.
CREATE FUNCTION district_slug(name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(translate(replace(name, ' ', '-'), 'øæåØÆÅ', 'oaaoaa'));

-- Functions are anyone's to call unless revoked: this one is the services' (both read
-- decisions), as their tables are.
REVOKE ALL ON FUNCTION district_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION district_slug(text) TO fsi_intake, fsi_router;
