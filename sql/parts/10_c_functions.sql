
/* ------------------------------------------------------------------------
 * C entry points (internal, prefixed with "_"; only the extension's owner
 * may execute them unless granted below)
 * ------------------------------------------------------------------------ */

CREATE FUNCTION tributary._require_preloaded()
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_require_preloaded';

CREATE FUNCTION tributary._wakeup_launcher()
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_wakeup_launcher';

CREATE FUNCTION tributary._conninfo_validate(conninfo text, kind text, superuser boolean)
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_conninfo_validate';

/* a start position a source of that kind can have, or an error */
CREATE FUNCTION tributary._position_check(kind text, pos text)
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_position_check';

/* the source kinds registered in this server (connector.c) */
CREATE FUNCTION tributary._source_kinds()
RETURNS text[] LANGUAGE C STRICT STABLE AS 'MODULE_PATHNAME', 'tributary_source_kinds';

CREATE FUNCTION tributary._conninfo_mask(conninfo text)
RETURNS text LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'tributary_conninfo_mask';

CREATE FUNCTION tributary._remote_tables(source_name text)
RETURNS TABLE (schema_name text, table_name text) LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_remote_tables';

CREATE FUNCTION tributary._drop_job_slot(job_id integer)
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_drop_job_slot';

CREATE FUNCTION tributary._remote_table_info(source_name text, source_schema text, source_rel text)
RETURNS jsonb LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_remote_table_info';

CREATE FUNCTION tributary._source_checks(source_name text, tables text[],
	OUT check_name text, OUT ok boolean, OUT detail text, OUT hint text)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_source_checks';

CREATE FUNCTION tributary._wait_for_sync(job_name text, timeout interval)
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_wait_for_sync';

/* the workers of the jobs the caller owns */
CREATE FUNCTION tributary._worker_status(
	OUT job_id integer, OUT pid integer, OUT state text, OUT phase text,
	OUT started_at timestamptz, OUT run_id bigint,
	OUT applied_position text, OUT source_position text,
	OUT lag_bytes bigint, OUT lag_seconds double precision,
	OUT rows_applied bigint, OUT last_error text)
RETURNS SETOF record LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_worker_status';

/* security.c: the API's caller, statements as the job owner, target checks */
CREATE FUNCTION tributary._api_caller()
RETURNS oid LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'tributary_api_caller';

CREATE FUNCTION tributary._check_generation_expr(what text, expr text)
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_check_generation_expr';

CREATE FUNCTION tributary._exec_as(role oid, statement text)
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_exec_as';

CREATE FUNCTION tributary._check_target(target regclass, owner oid, mode text, job_name text)
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_check_target';

CREATE FUNCTION tributary._canonical_type(type text, type_schema text)
RETURNS text LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'tributary_canonical_type';

/* transform.c: add_table's check of column expressions and filters */
CREATE FUNCTION tributary._transform_check(source_columns jsonb, columns jsonb, filter text,
										   target regclass, owner oid, source_table text)
RETURNS jsonb LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_transform_check';
