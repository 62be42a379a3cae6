-- People's sign-ins to the pages (/triage, and /ops for operators) with the identity
-- provider (OpenID Connect, authorization code with PKCE) are sessions of this table too:
-- subject = the person's `sub`, credential = the issuer that signed them in (a session of
-- another FSI_OIDC_ISSUER does not hold), and `grants` what the provider's access token said
-- of them at sign-in: {"roles": [...], "districts": [...], "national": bool}. Never their
-- name: it is shown from nothing stored (the page names the subject). The lifetimes of 0010
-- bound these sessions as they bound operators' key sessions.
ALTER TABLE operator_sessions ADD COLUMN grants jsonb
    CHECK (grants IS NULL OR jsonb_typeof(grants) = 'object');
