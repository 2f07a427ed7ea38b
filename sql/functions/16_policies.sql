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
