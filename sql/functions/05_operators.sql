-- ---------------------------------------------------------------------------------------------
-- Operators
--
-- They are created in pg_catalog, as the original extension's were, so that every role
-- resolves them whatever its search_path. Consequence: pg_dump does not dump objects in
-- pg_catalog, so after restoring a dump into a fresh database the operators must be
-- re-created (the functions behind them are in df and are restored).
--
-- All of them share PostgreSQL's single precedence for user-defined operators and group left
-- to right: 'a' ~> 'b' |=> 'n' names the sequence, @> 'a' ~> 'b' loops only 'a', and
-- c ?> t ~> u !> e fails (parenthesise: c ?> (t ~> u) !> e).
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION df.as_op(fut text, name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, df, pg_temp
AS $fn$
BEGIN
    RETURN df.as(fut, name);
END
$fn$;

-- cond ?> then: a partial IF, completed by !>. Operands stay text until then.
CREATE OR REPLACE FUNCTION df.if_then_op(condition text, then_branch text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN jsonb_build_object('_partial_if', true, 'condition', condition, 'then_branch', then_branch)::text;
END
$fn$;

CREATE OR REPLACE FUNCTION df.if_else_op(partial_if text, else_branch text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_partial jsonb := partial_if::jsonb;
BEGIN
    IF v_partial ->> '_partial_if' IS NULL THEN
        RAISE EXCEPTION 'Invalid if-then-else: left side of !> must be a ?> expression' USING ERRCODE = '22023';
    END IF;
    RETURN df.if(v_partial ->> 'condition', v_partial ->> 'then_branch', else_branch);
END
$fn$;

CREATE OR REPLACE FUNCTION df.loop_prefix_op(body text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, df, pg_temp
AS $fn$
    SELECT df.loop(body);
$fn$;

DROP OPERATOR IF EXISTS pg_catalog.~> (text, text);
CREATE OPERATOR pg_catalog.~> (FUNCTION = df.seq, LEFTARG = text, RIGHTARG = text);
DROP OPERATOR IF EXISTS pg_catalog.|=> (text, text);
CREATE OPERATOR pg_catalog.|=> (FUNCTION = df.as_op, LEFTARG = text, RIGHTARG = text);
DROP OPERATOR IF EXISTS pg_catalog.& (text, text);
CREATE OPERATOR pg_catalog.& (FUNCTION = df."join", LEFTARG = text, RIGHTARG = text);
DROP OPERATOR IF EXISTS pg_catalog.| (text, text);
CREATE OPERATOR pg_catalog.| (FUNCTION = df.race, LEFTARG = text, RIGHTARG = text);
DROP OPERATOR IF EXISTS pg_catalog.?> (text, text);
CREATE OPERATOR pg_catalog.?> (FUNCTION = df.if_then_op, LEFTARG = text, RIGHTARG = text);
DROP OPERATOR IF EXISTS pg_catalog.!> (text, text);
CREATE OPERATOR pg_catalog.!> (FUNCTION = df.if_else_op, LEFTARG = text, RIGHTARG = text);
DROP OPERATOR IF EXISTS pg_catalog.@> (NONE, text);
CREATE OPERATOR pg_catalog.@> (FUNCTION = df.loop_prefix_op, RIGHTARG = text);
