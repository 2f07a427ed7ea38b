DROP POLICY IF EXISTS instances_user_isolation ON df.instances;
CREATE POLICY instances_user_isolation ON df.instances FOR ALL
    USING (submitted_by = quote_ident(current_user)::regrole)
    WITH CHECK (submitted_by = quote_ident(current_user)::regrole);
DROP POLICY IF EXISTS nodes_user_isolation ON df.nodes;
CREATE POLICY nodes_user_isolation ON df.nodes FOR ALL
    USING (submitted_by = quote_ident(current_user)::regrole)
    WITH CHECK (submitted_by = quote_ident(current_user)::regrole);
DROP POLICY IF EXISTS vars_user_isolation ON df.vars;
CREATE POLICY vars_user_isolation ON df.vars FOR ALL
    USING (owner = quote_ident(current_user)::regrole)
    WITH CHECK (owner = quote_ident(current_user)::regrole);
-- A role reads its own key (df._caller_key) and nothing else; nobody writes the table directly.
DROP POLICY IF EXISTS role_keys_own ON df.role_keys;
CREATE POLICY role_keys_own ON df.role_keys FOR SELECT
    USING (role = quote_ident(current_user)::regrole);
GRANT SELECT ON df.role_keys TO PUBLIC;
