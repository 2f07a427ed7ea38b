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
-- A role reads its own key through the view df._own_role_key (df._caller_key) and nothing
-- else; nobody reads or writes the table directly. Row-level security alone would not do: a role
-- with BYPASSRLS (a reporting role, say) that could SELECT the table would read every role's key
-- and act as any of them. The view filters on current_user whatever the reader's attributes. The
-- policy stays as a second fence, should someone grant SELECT on the table.
DROP POLICY IF EXISTS role_keys_own ON df.role_keys;
CREATE POLICY role_keys_own ON df.role_keys FOR SELECT
    USING (role = quote_ident(current_user)::regrole);
REVOKE ALL ON df.role_keys FROM PUBLIC;
